// Micro-benchmark of the data path's per-byte work: frame seal/open, SHA-256,
// base64. Each figure is printed beside the alternative it replaced, measured
// in the same run, so the ratio holds on a noisy machine.
//   build/bench/crypto/crypto_bench [MiB per measurement, default 256]
#include <sodium.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include "base/base64.h"
#include "crypto/frames.h"

using namespace sealrelay;

namespace {

double mb_per_s(size_t bytes, const std::function<void()>& work) {
  auto start = std::chrono::steady_clock::now();
  work();
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return static_cast<double>(bytes) / 1e6 / s;
}

void row(const char* what, double ours, const char* baseline_name, double baseline) {
  std::printf("%-34s %9.0f MB/s   %-30s %9.0f MB/s   x%.1f\n", what, ours, baseline_name, baseline, ours / baseline);
}

}  // namespace

int main(int argc, char** argv) {
  if (sodium_init() < 0) return 1;
  const size_t total = (argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 256) << 20;
  const size_t chunk = protocol::kDefaultChunkBytes;
  std::vector<uint8_t> data(chunk);
  randombytes_buf(data.data(), data.size());
  const size_t rounds = total / chunk;

  Identity r = generate_identity(), a = generate_identity();
  uint8_t req[] = {'r'};
  auto init = InitiatorHandshake::start(r, a.public_key, req);
  auto resp = ResponderHandshake::read(a, init->message1());
  auto reply = resp->answer(req);
  auto done = init->finish(reply->message2);

  std::printf("sealrelay crypto micro-benchmark: %zu MiB per figure, %zu KiB chunks\n\n", total >> 20, chunk >> 10);

  std::vector<uint8_t> frame, out;
  FrameSealer sealer(reply->keys, 0);
  double seal = mb_per_s(total, [&] {
    for (size_t i = 0; i < rounds; ++i) sealer.seal_chunk(data, frame);
  });
  FrameSealer sealer2(reply->keys, 0);
  std::vector<std::vector<uint8_t>> frames(8);
  for (auto& f : frames) sealer2.seal_chunk(data, f);
  double open = mb_per_s(8 * chunk * (rounds / 8), [&] {
    for (size_t i = 0; i < rounds / 8; ++i) {
      FrameOpener opener(done->keys, 0);
      for (auto& f : frames) {
        if (!opener.open(f, out)) std::abort();
      }
    }
  });
  std::vector<uint8_t> raw(chunk + 16);
  uint8_t nonce[24] = {}, key[32] = {};
  double raw_aead = mb_per_s(total, [&] {
    for (size_t i = 0; i < rounds; ++i) {
      crypto_aead_xchacha20poly1305_ietf_encrypt(raw.data(), nullptr, data.data(), chunk, nullptr, 0, nullptr, nonce,
                                                 key);
    }
  });
  row("frame seal (incl. SHA-256)", seal, "raw XChaCha20-Poly1305", raw_aead);
  row("frame open (incl. SHA-256)", open, "raw XChaCha20-Poly1305", raw_aead);

  double sha_ossl = mb_per_s(total, [&] {
    Sha256 h;
    for (size_t i = 0; i < rounds; ++i) h.update(data);
    (void)h.finish();
  });
  double sha_sodium = mb_per_s(total, [&] {
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    for (size_t i = 0; i < rounds; ++i) crypto_hash_sha256_update(&st, data.data(), data.size());
    uint8_t d[32];
    crypto_hash_sha256_final(&st, d);
  });
  row("SHA-256 (OpenSSL)", sha_ossl, "SHA-256 (libsodium)", sha_sodium);

  std::string text(base64::encoded_size(chunk), '\0');
  double b64e = mb_per_s(total, [&] {
    for (size_t i = 0; i < rounds; ++i) base64::encode_into(data, text.data());
  });
  std::string stext(sodium_base64_encoded_len(chunk, sodium_base64_VARIANT_ORIGINAL), '\0');
  double b64e_sodium = mb_per_s(total, [&] {
    for (size_t i = 0; i < rounds; ++i) {
      sodium_bin2base64(stext.data(), stext.size(), data.data(), chunk, sodium_base64_VARIANT_ORIGINAL);
    }
  });
  row("base64 encode (OpenSSL, strict)", b64e, "base64 encode (libsodium)", b64e_sodium);

  std::vector<uint8_t> decoded;
  double b64d = mb_per_s(total, [&] {
    for (size_t i = 0; i < rounds; ++i) {
      if (!base64::decode_into(text, decoded)) std::abort();
    }
  });
  std::vector<uint8_t> sdecoded(chunk);
  double b64d_sodium = mb_per_s(total, [&] {
    for (size_t i = 0; i < rounds; ++i) {
      size_t len = 0;
      if (sodium_base642bin(sdecoded.data(), chunk, text.data(), text.size(), nullptr, &len, nullptr,
                            sodium_base64_VARIANT_ORIGINAL) != 0) {
        std::abort();
      }
    }
  });
  row("base64 decode (OpenSSL, strict)", b64d, "base64 decode (libsodium)", b64d_sodium);
  std::printf("\n(MB/s of plaintext; decode measured per MB of decoded bytes)\n");
  return 0;
}
