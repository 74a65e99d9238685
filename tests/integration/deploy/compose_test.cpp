// docker-compose.yml and packaging/docker/ without a Docker engine: Debian's
// docker-compose 1.29 validates the file (`config -q`,
// docs/dependencies.md §6), and the parts a daemon would only find broken at
// build or start time are checked here: build targets, COPY sources, the
// runtime libraries of the images, nginx's configuration. The topology
// itself runs natively in nginx_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <iterator>
#include <map>
#include <sstream>

#include "tests/integration/deploy/site.h"

namespace sealrelay::test {
namespace {
namespace fs = std::filesystem;

std::string compose_binary() { return find_program({"/usr/bin/docker-compose", "/usr/local/bin/docker-compose"}); }

// docker-compose ARGS in the source tree with `env` added.
LoggedRun compose(const std::vector<std::string>& args, const std::vector<std::string>& env, const std::string& log) {
  std::vector<std::string> argv{compose_binary(), "--project-directory", source(""), "-f",
                                source("docker-compose.yml")};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_logged(argv, log, env, 60s);
}

TEST(DockerCompose, TheFileIsValidForDockerCompose129AndDemandsARedisPassword) {
  if (compose_binary().empty()) GTEST_SKIP() << "docker-compose is not installed (scripts/setup installs it)";
  TempDir dir;
  // HOME: compose may look for ~/.docker; keep it away from the real one.
  std::vector<std::string> env{"HOME=" + dir.path(), "REDIS_PASSWORD=0123456789abcdef", "DOCKER_HOST=unix://" +
                               dir.path() + "/no-docker.sock"};
  auto ok = compose({"config", "-q"}, env, dir.path() + "/ok.log");
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  auto services = compose({"config", "--services"}, env, dir.path() + "/services.log");
  ASSERT_EQ(services.exit_code, 0) << services.output;
  for (const char* s : {"redis", "init", "relay1", "relay2", "nginx", "agent"}) {
    EXPECT_TRUE(std::regex_search(services.output, std::regex(std::string("(^|\\n)") + s + "(\\n|$)")))
        << s << " is missing:\n" << services.output;
  }
  // The password reaches Redis and both nodes' --redis URL.
  auto full = compose({"config"}, env, dir.path() + "/full.log");
  ASSERT_EQ(full.exit_code, 0) << full.output;
  std::regex url("SEALRELAY_REDIS: redis://:0123456789abcdef@redis:6379");
  EXPECT_EQ(std::distance(std::sregex_iterator(full.output.begin(), full.output.end(), url), std::sregex_iterator()), 2)
      << full.output;
  auto missing = compose({"config", "-q"}, {"HOME=" + dir.path(), "REDIS_PASSWORD="}, dir.path() + "/missing.log");
  EXPECT_NE(missing.exit_code, 0) << "no REDIS_PASSWORD must be an error, not an open Redis";
  EXPECT_NE(missing.output.find("REDIS_PASSWORD"), std::string::npos) << missing.output;
}

// The Dockerfile's stages ("FROM x AS name") and its plain COPY sources.
struct Dockerfile {
  std::set<std::string> stages;
  std::vector<std::string> copy_sources;
  std::map<std::string, std::vector<std::string>> apt_packages;  // by stage
};

Dockerfile parse_dockerfile(const std::string& path) {
  Dockerfile d;
  std::string text = std::regex_replace(read_file(path), std::regex("\\\\\\n"), " ");
  std::istringstream in(text);
  std::string stage;
  std::regex from(R"(^FROM\s+\S+\s+AS\s+(\S+))", std::regex::icase), copy(R"(^COPY\s+(.*))");
  std::regex apt(R"(apt-get install[^&]*)");
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, from)) {
      stage = m[1];
      d.stages.insert(stage);
    } else if (std::regex_search(line, m, copy) && line.find("--from=") == std::string::npos) {
      std::istringstream words(m[1].str());
      std::vector<std::string> w{std::istream_iterator<std::string>(words), {}};
      for (size_t i = 0; i + 1 < w.size(); ++i) d.copy_sources.push_back(w[i]);
    } else if (std::regex_search(line, m, apt)) {
      std::istringstream words(m[0].str());
      for (std::string w; words >> w;) {
        if (w != "apt-get" && w != "install" && w[0] != '-') d.apt_packages[stage].push_back(w);
      }
    }
  }
  return d;
}

TEST(DockerImages, EveryTargetAndCopySourceOfTheComposeFileExists) {
  auto d = parse_dockerfile(source("packaging/docker/Dockerfile"));
  std::string compose_text = read_file(source("docker-compose.yml"));
  std::regex target(R"(target:\s*(\S+))");
  int targets = 0;
  for (std::sregex_iterator it(compose_text.begin(), compose_text.end(), target), end; it != end; ++it, ++targets) {
    EXPECT_TRUE(d.stages.count((*it)[1])) << "no stage " << (*it)[1] << " in packaging/docker/Dockerfile";
  }
  EXPECT_GE(targets, 5);
  ASSERT_FALSE(d.copy_sources.empty());
  for (auto& src : d.copy_sources) EXPECT_TRUE(fs::exists(source(src))) << "COPY source " << src << " is missing";
  // Bind-mounted defaults that live in the tree.
  EXPECT_TRUE(fs::is_directory(source("packaging/docker/demo-share")));
  // .dockerignore keeps build trees and node_modules out of the context.
  std::string ignore = read_file(source(".dockerignore"));
  for (const char* p : {"build", "node_modules", ".git"}) EXPECT_NE(ignore.find(p), std::string::npos) << p;
}

// The image builds what the top-level CMakeLists.txt builds: a component
// directory added there (base/ was, once) must be copied into the image too.
TEST(DockerImages, EveryComponentTheBuildNeedsIsCopiedIntoTheImage) {
  auto d = parse_dockerfile(source("packaging/docker/Dockerfile"));
  std::string cmake = read_file(source("CMakeLists.txt"));
  std::smatch list;
  ASSERT_TRUE(std::regex_search(cmake, list, std::regex(R"(foreach\(component ([a-z ]+)\))")));
  std::istringstream components(list[1].str());
  int checked = 0;
  for (std::string c; components >> c; ++checked) {
    bool copied = std::any_of(d.copy_sources.begin(), d.copy_sources.end(),
                              [&](const std::string& src) { return src == c || src.starts_with(c + "/"); });
    EXPECT_TRUE(copied) << c << "/ is built by CMakeLists.txt but not copied by packaging/docker/Dockerfile";
  }
  EXPECT_GE(checked, 6);
}

TEST(DockerImages, TheRuntimeImageInstallsEverySharedLibraryOfThePrograms) {
  std::string dpkg = find_program({"/usr/bin/dpkg"}), query = find_program({"/usr/bin/dpkg-query"}),
              ldd = find_program({"/usr/bin/ldd"});
  if (dpkg.empty() || query.empty() || ldd.empty()) GTEST_SKIP() << "dpkg or ldd missing";
  auto d = parse_dockerfile(source("packaging/docker/Dockerfile"));
  std::set<std::string> runtime(d.apt_packages["runtime"].begin(), d.apt_packages["runtime"].end());
  ASSERT_FALSE(runtime.empty());
  // What the listed packages pull in, and what every debian:12-slim has.
  std::vector<std::string> q{query, "-W", "-f=${Depends}\n"};
  q.insert(q.end(), runtime.begin(), runtime.end());
  auto deps = run_command(q);
  ASSERT_TRUE(deps && deps->exit_code == 0) << (deps ? deps->err : "");
  std::string provided = deps->out + " libc6 libstdc++6 libgcc-s1 zlib1g ";
  for (auto& r : runtime) provided += " " + r + " ";
  // Every library the three programs load, and the package it comes from.
  std::vector<std::string> owners{dpkg, "-S"};
  std::regex lib(R"(=> (/\S+))");
  for (const char* bin : {"relay/sealrelay-relay", "agent/sealrelay-agent", "requester/sealrelay"}) {
    auto libs = run_command({ldd, binary(bin)});
    ASSERT_TRUE(libs && libs->exit_code == 0);
    for (std::sregex_iterator it(libs->out.begin(), libs->out.end(), lib), end; it != end; ++it) {
      // By name: with usrmerge dpkg knows /usr/lib/... or /lib/..., not both.
      fs::path p((*it)[1].str());
      owners.push_back("*/" + p.parent_path().filename().string() + "/" + p.filename().string());
    }
  }
  auto found = run_command(owners);
  ASSERT_TRUE(found && found->exit_code == 0) << (found ? found->err : "");
  std::istringstream lines(found->out);
  int checked = 0;
  for (std::string line; std::getline(lines, line); ++checked) {
    std::string pkg = line.substr(0, line.find_first_of(":,"));
    std::string quoted = std::regex_replace(pkg, std::regex(R"([+.])"), "\\$&");
    EXPECT_TRUE(std::regex_search(provided, std::regex("(^|[\\s,|])" + quoted + "([\\s,(:]|$)")))
        << line << ": the runtime stage neither installs nor pulls in " << pkg;
  }
  EXPECT_GE(checked, 8);
}

TEST(DockerImages, TheFrontsNginxConfigurationPassesNginxT) {
  if (Nginx::binary().empty()) GTEST_SKIP() << "nginx is not installed";
  std::unique_ptr<Deployment> made = start_site();
  Deployment& site = *made;
  ASSERT_TRUE(make_certs(site, {"ca"}));
  ASSERT_TRUE(make_certs(site, {"relay", "nginx"}));
  std::string conf = read_file(source("packaging/docker/nginx.conf"));
  conf = replace_all(conf, "relay1:8080", "127.0.0.1:18081");
  conf = replace_all(conf, "relay2:8080", "127.0.0.1:18082");
  conf = replace_all(conf, "/etc/sealrelay/tls/", certs_dir(site) + "/");
  conf = replace_all(conf, "/etc/nginx/snippets/sealrelay-proxy.conf", source("packaging/nginx/sealrelay-proxy.conf"));
  std::string d = site.dir();
  std::ofstream(d + "/nginx.conf") << "pid " << d << "/nginx.pid;\nerror_log " << d
                                   << "/error.log;\nevents {}\nhttp {\n" << conf << "\n}\n";
  auto r = run_logged({Nginx::binary(), "-t", "-q", "-e", d + "/error.log", "-p", d, "-c", d + "/nginx.conf"},
                      d + "/t.log");
  EXPECT_EQ(r.exit_code, 0) << r.output << read_file(d + "/error.log");
}

}  // namespace
}  // namespace sealrelay::test
