// relay/redis_cluster_slots.h: key slots, the slot map and redirections.
// Known answers from Redis Cluster's specification and from a real
// redis-server in cluster mode (skipped with the reason when none is
// installed), and the replies that must be refused.
#include "relay/redis_cluster_slots.h"

#include <gtest/gtest.h>

#include <random>

#include "tests/support/support.h"

namespace sealrelay::relay::redis {
namespace {

TEST(ClusterSlots, Crc16IsTheXmodemVariant) {
  EXPECT_EQ(crc16_xmodem("123456789"), 0x31C3);
  EXPECT_EQ(crc16_xmodem(""), 0);
}

TEST(ClusterSlots, KnownKeysLandInTheirKnownSlots) {
  EXPECT_EQ(key_slot("foo"), 12182);
  EXPECT_EQ(key_slot("hello"), 866);
  EXPECT_EQ(key_slot("somekey"), 11058);
}

TEST(ClusterSlots, OnlyTheFirstNonEmptyBracePairIsTheTag) {
  EXPECT_EQ(hash_tag("{user1000}.following"), "user1000");
  EXPECT_EQ(key_slot("{user1000}.following"), key_slot("{user1000}.followers"));
  EXPECT_EQ(hash_tag("foo{}{bar}"), "foo{}{bar}");  // empty first tag: the whole key
  EXPECT_EQ(hash_tag("foo{{bar}}zap"), "{bar");
  EXPECT_EQ(hash_tag("foo{bar}{zap}"), "bar");
  EXPECT_EQ(hash_tag("foo{bar"), "foo{bar");
  EXPECT_EQ(hash_tag("}foo{bar}"), "bar");
}

TEST(ClusterSlots, EveryKeyOfOneTransferOrAgentSharesASlot) {
  EXPECT_EQ(key_slot("sr:{t:t_0123}:meta"), key_slot("sr:{t:t_0123}:ev"));
  EXPECT_EQ(key_slot("sr:{t:t_0123}:ev"), key_slot("sr:{t:t_0123}:guard"));
  EXPECT_EQ(key_slot("sr:{a:shop-1}:info"), key_slot("sr:{a:shop-1}:inbox"));
}

TEST(ClusterSlots, RedirectionsAreReadAndAnythingElseIsNot) {
  auto moved = parse_redirection("MOVED 3999 127.0.0.1:6381");
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->kind, Redirection::Kind::moved);
  EXPECT_EQ(moved->slot, 3999);
  EXPECT_EQ(moved->to, (NodeAddress{"127.0.0.1", 6381}));
  auto ask = parse_redirection("ASK 0 ::1:7000");
  ASSERT_TRUE(ask);
  EXPECT_EQ(ask->kind, Redirection::Kind::ask);
  EXPECT_EQ(ask->to, (NodeAddress{"::1", 7000}));
  auto unknown_host = parse_redirection("MOVED 16383 :7001");
  ASSERT_TRUE(unknown_host);
  EXPECT_EQ(unknown_host->to.host, "");
  for (const char* bad : {"MOVED 16384 127.0.0.1:1", "MOVED -1 h:1", "MOVED 1 h:0", "MOVED 1 h:65536",
                          "MOVED 1 h", "MOVED 1", "MOVED x h:1", "ASK  h:1", "moved 1 h:1",
                          "ERR unknown command", "CLUSTERDOWN The cluster is down", "MOVED 1 h:1x", ""}) {
    EXPECT_FALSE(parse_redirection(bad)) << bad;
  }
}

// Replies are built by hand here as hiredis would build them.
struct FakeReply {
  redisReply reply{};
  std::vector<std::unique_ptr<FakeReply>> children;
  std::vector<redisReply*> pointers;
  std::string text;
  static std::unique_ptr<FakeReply> integer(long long v) {
    auto r = std::make_unique<FakeReply>();
    r->reply.type = REDIS_REPLY_INTEGER;
    r->reply.integer = v;
    return r;
  }
  static std::unique_ptr<FakeReply> string(std::string s) {
    auto r = std::make_unique<FakeReply>();
    r->text = std::move(s);
    r->reply.type = REDIS_REPLY_STRING;
    r->reply.str = r->text.data();
    r->reply.len = r->text.size();
    return r;
  }
  static std::unique_ptr<FakeReply> array(std::vector<std::unique_ptr<FakeReply>> items) {
    auto r = std::make_unique<FakeReply>();
    r->children = std::move(items);
    for (auto& c : r->children) r->pointers.push_back(&c->reply);
    r->reply.type = REDIS_REPLY_ARRAY;
    r->reply.elements = r->pointers.size();
    r->reply.element = r->pointers.data();
    return r;
  }
};

std::unique_ptr<FakeReply> node_entry(std::string host, long long port) {
  std::vector<std::unique_ptr<FakeReply>> n;
  n.push_back(FakeReply::string(std::move(host)));
  n.push_back(FakeReply::integer(port));
  n.push_back(FakeReply::string("07c37dfeb235213a872192d90877d0cd55635b91"));
  return FakeReply::array(std::move(n));
}

std::unique_ptr<FakeReply> range(long long first, long long last, std::unique_ptr<FakeReply> master) {
  std::vector<std::unique_ptr<FakeReply>> r;
  r.push_back(FakeReply::integer(first));
  r.push_back(FakeReply::integer(last));
  r.push_back(std::move(master));
  r.push_back(node_entry("127.0.0.1", 7100));  // a replica, ignored
  return FakeReply::array(std::move(r));
}

TEST(ClusterSlots, ASlotMapNamesTheMasterOfEverySlotItCovers) {
  std::vector<std::unique_ptr<FakeReply>> ranges;
  ranges.push_back(range(5461, 10922, node_entry("127.0.0.1", 7001)));
  ranges.push_back(range(0, 5460, node_entry("127.0.0.1", 7000)));
  ranges.push_back(range(10923, 16000, node_entry("127.0.0.1", 7002)));
  auto reply = FakeReply::array(std::move(ranges));
  auto map = SlotMap::from_cluster_slots(&reply->reply);
  ASSERT_TRUE(map.ok()) << map.error().message;
  EXPECT_EQ(map->master_of(0)->port, 7000);
  EXPECT_EQ(map->master_of(5461)->port, 7001);
  EXPECT_EQ(map->master_of(16000)->port, 7002);
  EXPECT_EQ(map->master_of(16001), nullptr);  // mid-failover: no master
  EXPECT_EQ(map->covered(), 16001u);
  EXPECT_EQ(map->masters().size(), 3u);
}

TEST(ClusterSlots, AReplyOfTheWrongShapeIsRefused) {
  auto refused = [](std::unique_ptr<FakeReply> r) {
    std::vector<std::unique_ptr<FakeReply>> v;
    v.push_back(std::move(r));
    auto reply = FakeReply::array(std::move(v));
    return !SlotMap::from_cluster_slots(&reply->reply).ok();
  };
  EXPECT_TRUE(refused(range(0, 16384, node_entry("h", 1))));
  EXPECT_TRUE(refused(range(-1, 10, node_entry("h", 1))));
  EXPECT_TRUE(refused(range(10, 9, node_entry("h", 1))));
  EXPECT_TRUE(refused(range(0, 1, node_entry("h", 0))));
  EXPECT_TRUE(refused(range(0, 1, node_entry("h", 65536))));
  EXPECT_TRUE(refused(range(0, 1, FakeReply::integer(7000))));
  EXPECT_TRUE(refused(FakeReply::integer(1)));
  auto not_array = FakeReply::string("x");
  EXPECT_FALSE(SlotMap::from_cluster_slots(&not_array->reply).ok());
  EXPECT_FALSE(SlotMap::from_cluster_slots(nullptr).ok());
}

// A real redis-server in cluster mode agrees on every slot, and its own
// CLUSTER SLOTS reply reads back as the map it serves.
TEST(ClusterSlots, ARealClusterNodeAgreesOnSlotsAndItsMap) {
  test::TempDir dir;
  int port = test::free_port();
  int bus_port = test::free_port();
  auto server = test::RedisServer::start(
      dir.path(), {"--port", std::to_string(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes", "--cluster-port", std::to_string(bus_port),
                   "--cluster-config-file", dir.path() + "/nodes.conf"});
  if (!server.ok()) GTEST_SKIP() << server.error().message;
  ASSERT_TRUE((*server)->command({"CLUSTER", "ADDSLOTSRANGE", "0", "16383"}).ok());
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> byte(0, 255), length(0, 12);
  for (int i = 0; i < 2000; ++i) {
    std::string key;
    for (int n = length(rng); n > 0; --n) key.push_back(i % 3 == 0 ? "{}ab"[byte(rng) % 4] : char(byte(rng)));
    auto slot = (*server)->command({"CLUSTER", "KEYSLOT", key});
    ASSERT_TRUE(slot.ok());
    ASSERT_EQ(*slot, std::to_string(key_slot(key))) << "key of " << key.size() << " bytes, #" << i;
  }
  redisContext* c = redisConnectUnix((*server)->socket_path().c_str());
  ASSERT_TRUE(c != nullptr && c->err == 0);
  auto reply = test::redis_call(c, {"CLUSTER", "SLOTS"});
  ASSERT_TRUE(reply);
  auto map = SlotMap::from_cluster_slots(reply.get());
  redisFree(c);
  ASSERT_TRUE(map.ok()) << map.error().message;
  EXPECT_EQ(map->covered(), size_t{kClusterSlots});
  ASSERT_EQ(map->masters().size(), 1u);
  EXPECT_EQ(map->masters()[0].port, port);
}

}  // namespace
}  // namespace sealrelay::relay::redis
