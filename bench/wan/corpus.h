// The WAN benchmark's corpora: what a shop's machines send, generated from a
// seed so every run (and every machine) pulls the same bytes. Text is made
// of realistic fields (dates, SKUs, amounts, request ids) drawn from small
// vocabularies with a skew, so it compresses about as well as the real thing
// (zstd 4-8×), not like a repeated line (100×) or noise (1×).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace sealrelay::bench::wan {

// splitmix64: tiny, fast and the same on every platform.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t below(uint64_t n) { return next() % n; }
  // Skewed towards small values: a few SKUs and users make most rows.
  uint64_t skewed(uint64_t n) { return below(1 + below(n)); }

 private:
  uint64_t s_;
};

// A point-of-sale export: date,time,store,till,receipt,sku,description,qty,
// unit_price,discount,total,payment,cashier. Writes rows until `bytes`.
void write_sales_csv(std::FILE* out, uint64_t bytes, uint64_t seed);
// An application's log (access lines and application lines with levels,
// request ids and durations) until `bytes`.
void write_app_log(std::FILE* out, uint64_t bytes, uint64_t seed);
// SQL for sqlite3: an orders table, its customers and an index, with about
// `bytes` of row text, in one transaction.
void write_orders_sql(std::FILE* out, uint64_t bytes, uint64_t seed);
// A binary PPM (P6) that looks like a photo to a JPEG encoder: smooth
// gradients and shapes with sensor noise, so cjpeg's output does not shrink
// further.
void write_photo_ppm(std::FILE* out, int width, int height, uint64_t seed);

}  // namespace sealrelay::bench::wan
