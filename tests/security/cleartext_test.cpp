// Nothing in the clear (docs/security.md: the relay learns nothing, so the
// cloud never sees plaintext, a name or a path).
// Transfers, listings, folder pulls, stats and refusals of files whose share name, folder
// names, file names and contents carry unique markers; then everything the
// relay side holds or saw is searched for them: every Redis key and value,
// every command the relay sent to Redis (MONITOR), the relay's logs at debug
// level, /metrics, its API answers, its state directory, and the relay
// process's own memory. None may contain a marker, a path or a name — also
// not in base64 (the relay stores and sends frames as base64).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <hiredis.h>
#include <httplib.h>
#include <sodium.h>
#include <unistd.h>

#include <filesystem>
#include <regex>
#include <fstream>
#include <thread>

#include "base/base64.h"
#include "tests/support/deployment.h"

namespace sealrelay::test {
namespace {

namespace fs = std::filesystem;

// `what` followed by 24 random hex digits: unique, and too long to turn up
// by chance in megabytes of ciphertext.
std::string marker(const std::string& what) {
  uint8_t r[12];
  randombytes_buf(r, sizeof r);
  static const char* digits = "0123456789abcdef";
  std::string s = what;
  for (uint8_t c : r) {
    s.push_back(digits[c >> 4]);
    s.push_back(digits[c & 15]);
  }
  return s;
}

// Every spelling of `text` a careless relay could hold: as is, and inside the
// base64 of a longer stream, at each of the three byte alignments (the
// characters shared with the neighbours are left out).
std::vector<std::string> spellings(const std::string& text) {
  std::vector<std::string> out{text};
  for (size_t skip = 0; skip < 3; ++skip) {
    size_t whole = (text.size() - skip) / 3 * 3;
    if (whole >= 9) out.push_back(base64::encode(std::string_view(text).substr(skip, whole)));
  }
  return out;
}

// Flattens every key and value of the Redis at `socket`.
std::string redis_everything(const std::string& socket) {
  std::string all;
  std::unique_ptr<redisContext, decltype(&redisFree)> c(redisConnectUnix(socket.c_str()), redisFree);
  if (!c || c->err) return "(cannot connect)";
  auto command = [&](const std::vector<std::string>& args) { return redis_call(c.get(), args); };
  std::function<void(const redisReply*)> flatten = [&](const redisReply* r) {
    if (!r) return;
    if (r->type == REDIS_REPLY_ARRAY) {
      for (size_t i = 0; i < r->elements; ++i) flatten(r->element[i]);
    } else if (r->str) {
      all.append(r->str, r->len).push_back('\n');
    }
  };
  auto keys = command({"KEYS", "*"});
  for (size_t i = 0; keys && i < keys->elements; ++i) {
    std::string key(keys->element[i]->str, keys->element[i]->len);
    all += key + "\n";
    auto type = command({"TYPE", key});
    std::string t = type && type->str ? type->str : "";
    if (t == "string") flatten(command({"GET", key}).get());
    else if (t == "hash") flatten(command({"HGETALL", key}).get());
    else if (t == "stream") flatten(command({"XRANGE", key, "-", "+"}).get());
    else if (t == "zset") flatten(command({"ZRANGE", key, "0", "-1"}).get());
    else if (t == "set") flatten(command({"SMEMBERS", key}).get());
    else if (t == "list") flatten(command({"LRANGE", key, "0", "-1"}).get());
  }
  return all;
}

// Reads MONITOR from the Redis at `socket` on a thread until stopped: every
// command any client (the relay) sends.
class Monitor {
 public:
  explicit Monitor(const std::string& socket) {
    c_ = redisConnectUnix(socket.c_str());
    if (!c_ || c_->err) return;
    timeval tv{0, 200'000};
    redisSetTimeout(c_, tv);
    auto* r = static_cast<redisReply*>(redisCommand(c_, "MONITOR"));
    if (r) freeReplyObject(r);
    thread_ = std::thread([this] {
      while (!stop_) {
        void* reply = nullptr;
        if (redisGetReply(c_, &reply) != REDIS_OK) {
          if (c_->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            c_->err = 0;  // a read timeout: look at stop_ and go on
            continue;
          }
          break;
        }
        auto* rr = static_cast<redisReply*>(reply);
        if (rr->str) seen_.append(rr->str, rr->len).push_back('\n');
        freeReplyObject(rr);
      }
    });
  }
  ~Monitor() { stop(); }
  std::string stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (c_) redisFree(c_);
    c_ = nullptr;
    return seen_;
  }

 private:
  redisContext* c_ = nullptr;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::string seen_;
};

// The resident pages of the readable, writable memory of process `pid` (its
// heap, stacks and data). Only pages present in RAM are read (from
// /proc/PID/pagemap): reading the rest would fault in gigabytes of untouched
// thread stacks.
std::string process_memory(pid_t pid) {
  std::string all;
  const std::string proc = "/proc/" + std::to_string(pid);
  std::ifstream maps(proc + "/maps");
  int mem = ::open((proc + "/mem").c_str(), O_RDONLY | O_CLOEXEC);
  int pagemap = ::open((proc + "/pagemap").c_str(), O_RDONLY | O_CLOEXEC);
  if (mem < 0 || pagemap < 0) {
    if (mem >= 0) ::close(mem);
    if (pagemap >= 0) ::close(pagemap);
    return all;
  }
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  std::string line;
  std::vector<uint64_t> entries;
  std::string buf(page, '\0');
  while (std::getline(maps, line)) {
    unsigned long long from = 0, to = 0;
    char perms[5] = {};
    if (std::sscanf(line.c_str(), "%llx-%llx %4s", &from, &to, perms) != 3 || perms[0] != 'r' || perms[1] != 'w') {
      continue;
    }
    // Sanitizer builds reserve terabytes of shadow memory (it holds no
    // program data): regions that large are not walked.
    if (to - from > (64ull << 30)) continue;
    for (uint64_t at = from; at < to;) {
      entries.assign(std::min<uint64_t>((to - at) / page, 65536), 0);
      ssize_t n = ::pread(pagemap, entries.data(), entries.size() * 8, static_cast<off_t>(at / page * 8));
      if (n <= 0) break;
      for (size_t i = 0; i < static_cast<size_t>(n) / 8; ++i) {
        if ((entries[i] >> 63) == 0) continue;  // not present
        if (::pread(mem, buf.data(), page, static_cast<off_t>(at + i * page)) == static_cast<ssize_t>(page)) {
          all += buf;
        }
      }
      at += entries.size() * page;
    }
  }
  ::close(mem);
  ::close(pagemap);
  return all;
}

std::string http_get(int port, const std::string& path) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(10);
  auto r = c.Get(path.c_str());
  return r ? r->body : "";
}

class NothingInTheClear : public testing::TestWithParam<Deployment::Store> {};

TEST_P(NothingInTheClear, TheRelayHoldsNoNamePathOrContent) {
  auto s = Deployment::start_one_relay(GetParam(), {"--log-level", "debug"});
  if (!s && s.error().code == "redis_absent") GTEST_SKIP() << "skipped: " << s.error().message;
  ASSERT_TRUE(s.ok()) << s.error().message;
  auto& sys = **s;

  const std::string share = marker("share");
  const std::string folder = marker("folder");
  const std::string name = marker("name");
  const std::string content = marker("content");
  const std::string hidden = marker("hidden");  // a path that does not exist
  const std::string root = sys.dir() + "/" + share;
  fs::create_directories(root + "/" + folder + "/" + marker("sub"));
  {
    std::ofstream f(root + "/" + folder + "/" + name + ".txt", std::ios::binary);
    for (int i = 0; i < 20000; ++i) f << content << " line " << i << "\n";  // ~1 MB, many chunks
  }
  std::ofstream(root + "/" + folder + "/" + marker("small") + ".csv") << content << "\n";
  std::vector<std::string> markers{share, folder, name, content, hidden};
  for (const auto& e : fs::recursive_directory_iterator(root)) markers.push_back(e.path().filename().string());

  std::unique_ptr<Monitor> monitor;
  if (sys.redis()) monitor = std::make_unique<Monitor>(sys.redis()->socket_path());
  ASSERT_TRUE(sys.start_agent_online("shop-1", {"--share", share + "=" + root}).ok());

  const std::string dir_path = "shop-1:/" + share + "/" + folder;
  const std::string file_path = dir_path + "/" + name + ".txt";
  fs::create_directories(sys.dir() + "/out");
  auto get = sys.cli({"get", file_path, "-o", sys.dir() + "/out/"});
  ASSERT_EQ(get.exit_code, 0) << get.output;
  EXPECT_TRUE(same_file(root + "/" + folder + "/" + name + ".txt", sys.dir() + "/out/" + name + ".txt"));
  auto ls = sys.cli({"ls", dir_path});
  ASSERT_EQ(ls.exit_code, 0) << ls.output;
  EXPECT_NE(ls.output.find(name), std::string::npos) << "the listing itself works";
  auto root_ls = sys.cli({"ls", "shop-1:/"});
  ASSERT_EQ(root_ls.exit_code, 0) << root_ls.output;
  EXPECT_NE(root_ls.output.find(share), std::string::npos) << root_ls.output;
  EXPECT_EQ(sys.cli({"stat", file_path}).exit_code, 0);
  // A folder pull and a tree listing (issue 17): every name and size inside
  // one stream; a select pattern too.
  const std::string pattern = marker("pattern");
  markers.push_back(pattern);
  auto tree = sys.cli({"get", "-r", "--exclude", pattern, dir_path, "-o", sys.dir() + "/tree/"});
  ASSERT_EQ(tree.exit_code, 0) << tree.output;
  EXPECT_TRUE(same_file(root + "/" + folder + "/" + name + ".txt", sys.dir() + "/tree/" + folder + "/" + name + ".txt"));
  auto tree_ls = sys.cli({"ls", "-r", dir_path});
  ASSERT_EQ(tree_ls.exit_code, 0) << tree_ls.output;
  EXPECT_NE(tree_ls.output.find(name), std::string::npos) << tree_ls.output;
  EXPECT_EQ(sys.cli({"get", dir_path + "/" + hidden, "-o", sys.dir() + "/out/"}).exit_code, 4);
  EXPECT_EQ(sys.cli({"ls", "shop-1:/" + share + "/../" + hidden}).exit_code, 4);

  // Everything the relay side holds or saw.
  std::map<std::string, std::string> held;
  if (sys.redis()) {
    held["redis keys and values"] = redis_everything(sys.redis()->socket_path());
    held["redis MONITOR"] = monitor->stop();
    EXPECT_GT(held["redis MONITOR"].size(), 100000u) << "MONITOR saw the frames go by";
  }
  held["/metrics"] = http_get(sys.port(), "/metrics");
  for (const auto& e : fs::directory_iterator(sys.dir())) {
    const std::string f = e.path().filename().string();
    if (f.starts_with("relay-") && f.ends_with(".log")) held["relay log " + f] = read_file(e.path());
  }
  for (const auto& e : fs::recursive_directory_iterator(sys.dir() + "/relay")) {
    if (e.is_regular_file()) held["relay state " + e.path().string()] = read_file(e.path());
  }
  // The relay's own memory: whatever it ever parsed, buffered or logged.
  // (Needs /proc/PID/mem of a child; skipped where that is not allowed.)
  const pid_t relay_pid = sys.relay_pid();
  ASSERT_NE(relay_pid, 0);
  std::string memory = process_memory(relay_pid);
  if (memory.empty()) {
    std::cout << "note: the relay's memory could not be read (ptrace restrictions); not searched\n";
  } else {
    held["relay process memory"] = std::move(memory);
  }

  // Controls: the search finds what the relay does hold (the agent's public
  // key, its id), and it would find a marker sent as plaintext in a base64
  // frame at any alignment.
  const std::string agent_key = [&] {
    std::smatch m;
    std::string text = read_file(sys.agent_state("shop-1") + "/identity.key");
    return std::regex_search(text, m, std::regex("public=(\\S+)")) ? std::string(m[1]) : std::string();
  }();
  ASSERT_FALSE(agent_key.empty());
  if (held.count("relay process memory")) {
    EXPECT_NE(held["relay process memory"].find(agent_key), std::string::npos) << "the memory search works";
  }
  if (sys.redis()) {
    EXPECT_NE(held["redis keys and values"].find(agent_key), std::string::npos) << "the Redis dump works";
  }
  for (size_t lead = 0; lead < 3; ++lead) {
    std::string leaked = base64::encode(std::string(lead + 7, 'x') + "line 1\n" + content + " line 2\n");
    bool found = false;
    for (const auto& spelling : spellings(content)) found = found || leaked.find(spelling) != std::string::npos;
    EXPECT_TRUE(found) << "a plaintext frame at alignment " << lead << " would go unnoticed";
  }

  ASSERT_FALSE(held.empty());
  size_t searched = 0;
  for (const auto& [where, text] : held) {
    searched += text.size();
    for (const auto& m : markers) {
      for (const auto& spelling : spellings(m)) {
        EXPECT_EQ(text.find(spelling), std::string::npos)
            << "\"" << m << "\" (as \"" << spelling << "\") appears in " << where;
      }
    }
  }
  std::cout << "searched " << searched << " bytes the relay holds or saw for " << markers.size() << " markers\n";
}

INSTANTIATE_TEST_SUITE_P(Stores, NothingInTheClear, testing::Values(Deployment::Store::kMemory, Deployment::Store::kRedis),
                         [](const auto& info) { return info.param == Deployment::Store::kMemory ? "EmbeddedStore"
                                                                                           : "RedisStore"; });

}  // namespace
}  // namespace sealrelay::test
