#include "bench/wan/corpus.h"

#include <array>
#include <cmath>
#include <vector>

namespace sealrelay::bench::wan {
namespace {

constexpr std::array kProducts = {
    "Espresso beans 1kg", "Oat milk 1l",      "Croissant",         "Sourdough loaf",   "Orange juice 0.5l",
    "Sparkling water",    "Chocolate bar",    "Paper cups x50",    "Napkins x200",     "Green tea 20 bags",
    "Banana",             "Apple Gala",       "Cheddar 200g",      "Butter 250g",      "Eggs x6",
    "Olive oil 0.75l",    "Pasta fusilli",    "Tomato passata",    "Rice basmati 1kg", "Dish soap 0.5l",
    "Batteries AA x4",    "Phone charger",    "Notebook A5",       "Ballpoint pen",    "Gift card 25",
    "Sandwich club",      "Salad bowl",       "Muffin blueberry",  "Yogurt plain",     "Cold brew can"};
constexpr std::array kPayments = {"card", "card", "card", "contactless", "contactless", "cash", "voucher"};
constexpr std::array kLevels = {"INFO", "INFO", "INFO", "INFO", "DEBUG", "DEBUG", "WARN", "ERROR"};
constexpr std::array kPaths = {"/api/v1/orders", "/api/v1/orders/{id}", "/api/v1/stock", "/api/v1/prices",
                               "/api/v1/login",  "/healthz",            "/static/app.js", "/api/v1/receipts"};
constexpr std::array kMessages = {"order committed",       "stock level below reorder point", "price list reloaded",
                                  "payment authorised",    "payment declined by issuer",      "receipt printed",
                                  "sync to head office ok", "retrying sync after timeout",    "cache miss, loading"};

// A date and time walking forward a little per row, like a day's receipts.
struct Walk {
  int day = 0;
  int seconds = 8 * 3600;
  void step(Rng& r) {
    seconds += static_cast<int>(r.below(40));
    if (seconds >= 21 * 3600) seconds = 8 * 3600, ++day;
  }
  void date(char* out, size_t n) const {
    int month = 1 + (day / 28) % 12;
    std::snprintf(out, n, "2026-%02d-%02d", month, 1 + day % 28);
  }
};

}  // namespace

void write_sales_csv(std::FILE* out, uint64_t bytes, uint64_t seed) {
  Rng r(seed);
  Walk w;
  uint64_t written = static_cast<uint64_t>(std::fprintf(
      out, "date,time,store,till,receipt,sku,description,qty,unit_price,discount,total,payment,cashier\n"));
  for (uint64_t receipt = 100000; written < bytes; ++receipt) {
    w.step(r);
    char date[16];
    w.date(date, sizeof date);
    int store = 1 + static_cast<int>(r.skewed(40));
    int till = 1 + static_cast<int>(r.below(4));
    int lines = 1 + static_cast<int>(r.skewed(8));
    for (int i = 0; i < lines && written < bytes; ++i) {
      size_t p = r.skewed(kProducts.size());
      int qty = 1 + static_cast<int>(r.skewed(5));
      int cents = 49 + static_cast<int>(p * 137 % 2400);
      int discount = r.below(10) == 0 ? cents * qty / 10 : 0;
      int total = cents * qty - discount;
      written += static_cast<uint64_t>(std::fprintf(
          out, "%s,%02d:%02d:%02d,S%03d,%d,%llu,SKU-%05zu,%s,%d,%d.%02d,%d.%02d,%d.%02d,%s,C%04d\n", date,
          w.seconds / 3600, w.seconds / 60 % 60, w.seconds % 60, store, till, static_cast<unsigned long long>(receipt),
          10000 + p * 37, kProducts[p], qty, cents / 100, cents % 100, discount / 100, discount % 100, total / 100,
          total % 100, kPayments[r.below(kPayments.size())], 1 + static_cast<int>(r.skewed(300))));
    }
  }
}

void write_app_log(std::FILE* out, uint64_t bytes, uint64_t seed) {
  Rng r(seed);
  Walk w;
  for (uint64_t written = 0; written < bytes;) {
    w.step(r);
    char date[16];
    w.date(date, sizeof date);
    unsigned long long request = r.next() & 0xffffffffffffULL;
    int ms = static_cast<int>(r.below(1000));
    if (r.below(3) == 0) {
      int status = r.below(20) == 0 ? 500 : (r.below(10) == 0 ? 404 : 200);
      written += static_cast<uint64_t>(std::fprintf(
          out, "%sT%02d:%02d:%02d.%03dZ 10.0.%d.%d \"GET %s HTTP/1.1\" %d %d %dms req=%012llx ua=\"till-app/4.%d\"\n",
          date, w.seconds / 3600, w.seconds / 60 % 60, w.seconds % 60, ms, static_cast<int>(r.skewed(8)),
          2 + static_cast<int>(r.skewed(60)), kPaths[r.skewed(kPaths.size())], status,
          static_cast<int>(200 + r.below(20000)), static_cast<int>(1 + r.skewed(900)), request,
          static_cast<int>(r.skewed(3))));
    } else {
      written += static_cast<uint64_t>(std::fprintf(
          out, "%sT%02d:%02d:%02d.%03dZ %-5s [worker-%d] %s: %s (store=S%03d order=%llu took=%dms req=%012llx)\n", date,
          w.seconds / 3600, w.seconds / 60 % 60, w.seconds % 60, ms, kLevels[r.below(kLevels.size())],
          static_cast<int>(r.below(8)), r.below(2) ? "orders.service" : "sync.client",
          kMessages[r.skewed(kMessages.size())], 1 + static_cast<int>(r.skewed(40)),
          static_cast<unsigned long long>(500000 + r.below(100000)), static_cast<int>(r.skewed(2000)), request));
    }
  }
}

void write_orders_sql(std::FILE* out, uint64_t bytes, uint64_t seed) {
  Rng r(seed);
  Walk w;
  std::fprintf(out,
               "PRAGMA page_size=4096;\nBEGIN;\n"
               "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT, email TEXT, city TEXT);\n"
               "CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER, placed TEXT, sku TEXT, "
               "description TEXT, qty INTEGER, amount REAL, status TEXT);\n");
  constexpr std::array kCities = {"Lyon", "Porto", "Graz", "Leeds", "Gent", "Turku", "Brno", "Cork"};
  for (int c = 1; c <= 5000; ++c)
    std::fprintf(out, "INSERT INTO customers VALUES(%d,'Customer %d','c%d@example.net','%s');\n", c, c, c,
                 kCities[r.below(kCities.size())]);
  for (uint64_t written = 0, id = 1; written < bytes; ++id) {
    w.step(r);
    char date[16];
    w.date(date, sizeof date);
    size_t p = r.skewed(kProducts.size());
    int qty = 1 + static_cast<int>(r.skewed(5));
    written += static_cast<uint64_t>(std::fprintf(
        out, "INSERT INTO orders VALUES(%llu,%d,'%s %02d:%02d','SKU-%05zu','%s',%d,%d.%02d,'%s');\n",
        static_cast<unsigned long long>(id), 1 + static_cast<int>(r.skewed(5000)), date, w.seconds / 3600,
        w.seconds / 60 % 60, 10000 + p * 37, kProducts[p], qty, static_cast<int>(p * 3 + 1) * qty,
        static_cast<int>(r.below(100)), r.below(12) == 0 ? "refunded" : "paid"));
  }
  std::fprintf(out, "CREATE INDEX orders_by_customer ON orders(customer, placed);\nCOMMIT;\n");
}

void write_photo_ppm(std::FILE* out, int width, int height, uint64_t seed) {
  Rng r(seed);
  std::fprintf(out, "P6\n%d %d\n255\n", width, height);
  // A sky-to-ground gradient, a few soft discs, and per-pixel noise.
  double base[3] = {60.0 + r.below(120), 60.0 + r.below(120), 60.0 + r.below(120)};
  struct Disc {
    double x, y, radius, shade[3];
  };
  std::vector<Disc> discs(6);
  for (auto& d : discs)
    d = {double(r.below(width)), double(r.below(height)), 40.0 + r.below(height / 3),
         {double(r.below(256)), double(r.below(256)), double(r.below(256))}};
  std::vector<unsigned char> row(static_cast<size_t>(width) * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      double px[3] = {base[0] + 80.0 * y / height, base[1] + 40.0 * std::sin(x * 0.01), base[2] - 60.0 * y / height};
      for (const auto& d : discs) {
        double k = std::exp(-((x - d.x) * (x - d.x) + (y - d.y) * (y - d.y)) / (d.radius * d.radius));
        for (int c = 0; c < 3; ++c) px[c] = px[c] * (1 - k) + d.shade[c] * k;
      }
      for (int c = 0; c < 3; ++c) {
        double v = px[c] + static_cast<double>(r.below(25)) - 12.0;
        row[static_cast<size_t>(x) * 3 + c] = static_cast<unsigned char>(v < 0 ? 0 : v > 255 ? 255 : v);
      }
    }
    std::fwrite(row.data(), 1, row.size(), out);
  }
}

}  // namespace sealrelay::bench::wan
