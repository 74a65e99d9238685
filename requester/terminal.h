// Text from the network on the terminal. Agent ids, file names, the relay's
// and the agent's messages are untrusted: a control byte in them could move
// the cursor, clear the screen or forge a line of the CLI's own output. They
// are escaped where they enter a message; the CLI's own text (the
// key-changed warning's line breaks) is printed as written.
#pragma once

#include <string>
#include <string_view>

namespace sealrelay::requester {

// `untrusted` with every C0/C1 control byte, DEL, backslash and byte that
// is not valid UTF-8 written as an escape (\n, \t, \\, \xNN, \u{NN}), so
// what reaches the terminal is printable text on one line.
std::string escaped(std::string_view untrusted);

// The CLI's own message (which may quote already escaped parts) made safe
// as a whole: line breaks kept, every other control byte escaped. What every
// error goes through last, in case an untrusted part was not escaped.
std::string printable_lines(std::string_view message);

}  // namespace sealrelay::requester
