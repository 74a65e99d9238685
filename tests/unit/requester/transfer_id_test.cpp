// The CLI's transfer engine against a relay that answers POST /v1/transfers
// with an id that is not one (issue 15): a loopback HTTP server playing the
// relay. The id would go into the event stream's URL (and could name
// another route, e.g. "../../v1/agents"); it is refused before any use.
#include <gtest/gtest.h>
#include <httplib.h>

#include <mutex>
#include <thread>

#include "crypto/keys.h"
#include "requester/transfer.h"

namespace sealrelay::requester {
namespace {

TEST(RunRequest, ATransferIdNotOfTheRelaysFormIsRefusedBeforeItIsUsed) {
  for (const std::string& bad : std::vector<std::string>{"../../v1/agents", "t_0", "t_" + std::string(32, 'A'),
                                                         "t_" + std::string(33, 'a'),
                                                         "t_00000000000000000000000000000000/../x"}) {
    httplib::Server relay;
    std::mutex mu;
    std::vector<std::string> seen;  // method + path of every request; guarded by mu
    relay.set_logger([&](const httplib::Request& req, const httplib::Response&) {
      std::lock_guard lk(mu);
      seen.push_back(req.method + " " + req.path);
    });
    relay.Post("/v1/transfers", [&](const httplib::Request&, httplib::Response& res) {
      res.status = 201;
      res.set_content(nlohmann::json{{"transfer_id", bad}, {"state", "requested"}}.dump(), "application/json");
    });
    int port = relay.bind_to_any_port("127.0.0.1");
    std::thread serving([&] { relay.listen_after_bind(); });
    // bind_to_any_port() already listens: the client's connect queues until accept.

    RelayConfig config;
    config.url = "http://127.0.0.1:" + std::to_string(port);
    config.token = "srt_x";
    RequestOptions options;
    options.reconnect_for = std::chrono::seconds(2);  // a client that used the id would retry its stream
    TimestampSource clock;
    auto r = run_request(config, generate_identity(), "shop-1", generate_identity().public_key, options, clock,
                         nullptr, nullptr);
    relay.stop();
    serving.join();
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, "bad_response") << bad;
    EXPECT_NE(r.error().message.find("not one"), std::string::npos) << r.error().message;
    std::lock_guard lk(mu);
    EXPECT_EQ(seen, std::vector<std::string>{"POST /v1/transfers"}) << "something was sent with the id " << bad;
  }
}

}  // namespace
}  // namespace sealrelay::requester
