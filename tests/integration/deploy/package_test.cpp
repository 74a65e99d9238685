// The Debian packages (cmake/packaging.cmake), as cpack built them from
// this build (ctest fixture deploy_cpack): their control data, files and maintainer scripts
// are checked with dpkg-deb; their programs run from an extracted tree; and
// they are installed, upgraded and purged with dpkg -i in a throwaway copy
// of this machine: an overlay of / in a private mount namespace, so nothing
// of the real system changes (skipped where overlay mounts are not allowed).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "tests/integration/deploy/site.h"

namespace sealrelay::test {
namespace {
namespace fs = std::filesystem;

const std::string kVersion = SEALRELAY_VERSION;

// The packages come from the ctest fixture deploy_cpack (cpack into
// SEALRELAY_DEB_DIR, once for all these tests).
class DebianPackages : public ::testing::Test {
 protected:
  void SetUp() override {
    if (find_program({"/usr/bin/dpkg-deb"}).empty()) GTEST_SKIP() << "dpkg-deb is not installed";
    ASSERT_TRUE(fs::exists(deb("sealrelay-relay")))
        << "no packages in " << SEALRELAY_DEB_DIR << ": run through ctest (fixture deploy_cpack builds them)";
    if (!dir_) dir_ = new TempDir();
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string deb(const std::string& name) {
    return std::string(SEALRELAY_DEB_DIR) + "/" + name + "_" + kVersion + "_" + arch() + ".deb";
  }
  static std::string arch() {
    auto r = run_command({"/usr/bin/dpkg", "--print-architecture"});
    std::string a = r ? r->out : "amd64";
    while (!a.empty() && a.back() == '\n') a.pop_back();
    return a;
  }
  static std::string dpkg_deb(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"/usr/bin/dpkg-deb"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = run_command(argv);
    EXPECT_TRUE(r && r->exit_code == 0) << (r ? r->err : r.error().message);
    return r ? r->out : "";
  }

  static TempDir* dir_;  // scratch space of this process's tests
};
TempDir* DebianPackages::dir_ = nullptr;

TEST_F(DebianPackages, EachPackageNamesItsRuntimeLibrariesAndHoldsItsFiles) {
  struct Expect {
    std::string package;
    std::vector<std::string> depends, files;
  };
  std::vector<Expect> expects{
      {"sealrelay-relay",
       {"libsodium23", "libcpp-httplib0.11", "libhiredis0.14", "libssl3", "libspdlog1.10"},
       {"./usr/bin/sealrelay-relay", "./usr/bin/sealrelay-make-certs", "./usr/lib/systemd/system/sealrelay-relay.service",
        "./usr/lib/systemd/system/sealrelay-relay@.service", "./etc/sealrelay/relay.conf",
        "./usr/share/doc/sealrelay-relay/examples/sealrelay.conf", "./usr/share/man/man1/sealrelay-relay.1.gz"}},
      {"sealrelay-agent",
       {"libsodium23", "libcpp-httplib0.11", "libssl3"},
       {"./usr/bin/sealrelay-agent", "./usr/lib/systemd/system/sealrelay-agent.service", "./etc/sealrelay/agent.conf",
        "./usr/share/man/man1/sealrelay-agent.1.gz"}},
      {"sealrelay",
       {"libsodium23", "libcpp-httplib0.11"},
       {"./usr/bin/sealrelay", "./usr/share/man/man1/sealrelay.1.gz",
        "./usr/share/bash-completion/completions/sealrelay"}},
  };
  for (auto& e : expects) {
    ASSERT_TRUE(fs::exists(deb(e.package))) << e.package;
    EXPECT_EQ(dpkg_deb({"-f", deb(e.package), "Package"}), e.package + "\n");
    EXPECT_EQ(dpkg_deb({"-f", deb(e.package), "Version"}), kVersion + "\n");
    std::string depends = dpkg_deb({"-f", deb(e.package), "Depends"});
    for (auto& d : e.depends) EXPECT_NE(depends.find(d), std::string::npos) << e.package << " lacks " << d;
    std::string contents = dpkg_deb({"--contents", deb(e.package)});
    for (auto& f : e.files) {
      EXPECT_TRUE(std::regex_search(contents, std::regex(" " + std::regex_replace(f, std::regex(R"([.@])"), "\\$&") +
                                                         "(\n| ->)")))
          << e.package << " lacks " << f;
    }
    EXPECT_EQ(contents.find("/usr/local"), std::string::npos) << contents;
  }
  EXPECT_EQ(dpkg_deb({"-I", deb("sealrelay-relay"), "conffiles"}), "/etc/sealrelay/relay.conf\n");
  EXPECT_EQ(dpkg_deb({"-I", deb("sealrelay-agent"), "conffiles"}), "/etc/sealrelay/agent.conf\n");
}

TEST_F(DebianPackages, MaintainerScriptsAreValidShellAndCreateTheUserAndStateDirs) {
  for (const char* pkg : {"sealrelay-relay", "sealrelay-agent"}) {
    std::string control = dir_->path() + "/control-" + pkg;
    dpkg_deb({"-e", deb(pkg), control});
    for (const char* script : {"postinst", "prerm", "postrm"}) {
      std::string path = control + "/" + script;
      ASSERT_TRUE(fs::exists(path)) << pkg << " has no " << script;
      EXPECT_EQ(::access(path.c_str(), X_OK), 0) << script << " is not executable";
      auto syntax = run_command({"/bin/sh", "-n", path});
      EXPECT_TRUE(syntax && syntax->exit_code == 0) << pkg << " " << script << ": " << (syntax ? syntax->err : "");
      EXPECT_EQ(read_file(path).find("@COMMON@"), std::string::npos);
    }
    std::string postinst = read_file(control + "/postinst");
    EXPECT_NE(postinst.find("useradd --system"), std::string::npos);
    EXPECT_NE(postinst.find(std::string(pkg) == "sealrelay-relay" ? "/var/lib/sealrelay " : "/var/lib/sealrelay-agent"),
              std::string::npos);
  }
}

TEST_F(DebianPackages, TheProgramsAndUnitsOfAnExtractedTreeWork) {
  std::string root = dir_->path() + "/extracted";
  for (const char* pkg : {"sealrelay-relay", "sealrelay-agent", "sealrelay"}) dpkg_deb({"-x", deb(pkg), root});
  for (const char* bin : {"sealrelay-relay", "sealrelay-agent", "sealrelay", "sealrelay-make-certs"}) {
    auto r = run_command({root + "/usr/bin/" + bin, "--help"});
    ASSERT_TRUE(r) << bin;
    EXPECT_TRUE(r->exit_code == 0 || (std::string(bin) == "sealrelay-make-certs" && r->exit_code == 2))
        << bin << " exit " << r->exit_code << "\n" << r->err;
    EXPECT_NE((r->out + r->err).find("sealrelay"), std::string::npos) << bin;
  }
  std::string analyze = find_program({"/usr/bin/systemd-analyze"});
  if (analyze.empty()) return;
  for (const char* unit : {"sealrelay-relay.service", "sealrelay-agent.service"}) {
    std::string text = read_file(root + "/usr/lib/systemd/system/" + unit);
    EXPECT_NE(text.find("ExecStart=/usr/bin/"), std::string::npos) << unit;
    std::ofstream(dir_->path() + "/" + unit) << replace_all(text, "ExecStart=/usr/bin/", "ExecStart=" + root + "/usr/bin/");
    auto r = run_logged({analyze, "verify", dir_->path() + "/" + unit}, dir_->path() + "/verify.log");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output, "");
  }
}

// dpkg -i, an upgrade (the same packages again) and a purge in an overlay of
// this machine's root, inside a private mount namespace: the real system,
// its dpkg database and its users stay as they are.
TEST_F(DebianPackages, DpkgInstallsUpgradesAndPurgesThemOnThisDebian) {
  std::string unshare = find_program({"/usr/bin/unshare"});
  if (::geteuid() != 0 || unshare.empty()) GTEST_SKIP() << "needs root and unshare for a throwaway overlay of /";
  std::string d = dir_->path() + "/sandbox";
  for (const char* sub : {"upper", "work", "merged", "debs"}) fs::create_directories(d + "/" + sub);
  for (const char* pkg : {"sealrelay-relay", "sealrelay-agent", "sealrelay"}) {
    fs::copy_file(deb(pkg), d + "/debs/" + fs::path(deb(pkg)).filename().string());
  }
  auto had_user = run_command({"/usr/bin/getent", "passwd", "sealrelay"});
  auto had_package = run_command({"/usr/bin/dpkg-query", "-W", "-f=${Status} ${Version}", "sealrelay-relay"});
  const std::string inner = R"(
set -eu
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
dpkg -i /tmp/sealrelay-debs/*.deb
getent passwd sealrelay
stat -c 'state %a %U' /var/lib/sealrelay /var/lib/sealrelay-agent
stat -c 'conf %a %U %G' /etc/sealrelay/relay.conf /etc/sealrelay/agent.conf
sealrelay-relay --help >/dev/null
sealrelay --version
runuser -u sealrelay -- sealrelay-relay --config /etc/sealrelay/relay.conf token add-agent shop-1 >/dev/null
runuser -u sealrelay -- sealrelay-agent init --state-dir /var/lib/sealrelay-agent >/dev/null
stat -c 'tokens %a %U' /var/lib/sealrelay/tokens.json
dpkg -i /tmp/sealrelay-debs/*.deb
test -s /var/lib/sealrelay/tokens.json && echo 'upgrade kept the tokens'
dpkg --purge sealrelay-relay sealrelay-agent sealrelay
test ! -e /var/lib/sealrelay && test ! -e /var/lib/sealrelay-agent && test ! -e /usr/bin/sealrelay-relay
echo SANDBOX-DONE
)";
  std::ofstream(d + "/debs/inner.sh") << inner;
  const std::string outer = "set -eu\n"
                            "mount -t overlay overlay -o lowerdir=/,upperdir=" + d + "/upper,workdir=" + d +
                            "/work " + d + "/merged\n"
                            "mount --bind /proc " + d + "/merged/proc\n"
                            "mount --bind /dev " + d + "/merged/dev\n"
                            "mkdir -p " + d + "/merged/tmp/sealrelay-debs\n"
                            "mount --bind " + d + "/debs " + d + "/merged/tmp/sealrelay-debs\n"
                            "exec chroot " + d + "/merged /bin/sh /tmp/sealrelay-debs/inner.sh\n";
  // --propagation private (unshare's default): nothing mounted here is seen outside.
  auto r = run_logged({unshare, "--mount", "--propagation", "private", "--fork", "/bin/sh", "-c", outer},
                      d + "/sandbox.log", {}, 120s);
  if (r.exit_code != 0 && r.output.find("mount:") != std::string::npos &&
      r.output.find("SANDBOX") == std::string::npos && r.output.find("dpkg") == std::string::npos) {
    GTEST_SKIP() << "no overlay mount here: " << r.output;
  }
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("sealrelay:x:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("state 700 sealrelay"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("conf 640 root sealrelay"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("tokens 600 sealrelay"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("upgrade kept the tokens"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("SANDBOX-DONE"), std::string::npos) << r.output;
  // The real system did not change.
  auto has_user = run_command({"/usr/bin/getent", "passwd", "sealrelay"});
  EXPECT_EQ(had_user && had_user->exit_code == 0, has_user && has_user->exit_code == 0);
  auto has_package = run_command({"/usr/bin/dpkg-query", "-W", "-f=${Status} ${Version}", "sealrelay-relay"});
  ASSERT_TRUE(had_package && has_package);
  EXPECT_EQ(had_package->out, has_package->out) << "the real dpkg database changed";
  EXPECT_FALSE(fs::exists("/var/lib/sealrelay-agent/identity.key") && !fs::exists(d + "/upper/var/lib")) ;
}

}  // namespace
}  // namespace sealrelay::test
