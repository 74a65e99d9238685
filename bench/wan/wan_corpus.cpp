// wan_corpus: writes one of the WAN benchmark's corpora to stdout
// (bench/wan/corpus.h). bench/wan/run calls it and caches the results.
//
//   wan_corpus csv BYTES SEED | log BYTES SEED | sql BYTES SEED | ppm WIDTH HEIGHT SEED
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench/wan/corpus.h"

namespace wan = sealrelay::bench::wan;

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: wan_corpus csv|log|sql BYTES SEED, or wan_corpus ppm WIDTH HEIGHT SEED\n");
    return 2;
  }
  std::string kind = argv[1];
  uint64_t n = std::strtoull(argv[2], nullptr, 10);
  uint64_t seed = std::strtoull(argv[argc - 1], nullptr, 10);
  if (kind == "csv") wan::write_sales_csv(stdout, n, seed);
  else if (kind == "log") wan::write_app_log(stdout, n, seed);
  else if (kind == "sql") wan::write_orders_sql(stdout, n, seed);
  else if (kind == "ppm" && argc == 5) wan::write_photo_ppm(stdout, static_cast<int>(n), std::atoi(argv[3]), seed);
  else {
    std::fprintf(stderr, "wan_corpus: unknown kind \"%s\" (csv, log, sql, ppm)\n", kind.c_str());
    return 2;
  }
  return std::fflush(stdout) == 0 && !std::ferror(stdout) ? 0 : 1;
}
