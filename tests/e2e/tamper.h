// Tampering with what the relay keeps in Redis, for the tests that show a
// requester refuses a changed frame (tests/e2e, tests/browser).
#pragma once

#include <string>

#include "base/result.h"

namespace sealrelay::test {

// Rewrites the relay's event stream `key` in the Redis at `socket` with one
// ciphertext byte of its last queued frame changed (streams are
// append-only, so the whole stream is re-added with the same ids, in one
// transaction).
Result<void> tamper_last_frame(const std::string& socket, const std::string& key);

}  // namespace sealrelay::test
