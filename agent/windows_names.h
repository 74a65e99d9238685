// The Windows agent's name rules (share_policy_windows.cpp), as pure string
// functions so they are tested on Linux too (tests/unit/agent/
// windows_names_test.cpp) as well as under wine.
//
// Win32 path parsing gives some names a meaning of their own, so a requester
// path component that is harmless on Linux can leave the share or reach
// something that is not a file on Windows. A component is refused when it
//   * holds ':' (an alternate data stream "a.txt:secret", or a drive "C:"),
//     '\' (another separator: "..\x", "\\server\share"), a character Win32
//     does not allow in names (< > " | ? *) or a control character;
//   * ends in '.' or ' ' (Win32 strips them: "a.txt." opens "a.txt", and an
//     exclude of "a.txt" must not be walked round);
//   * is a reserved device name — CON, PRN, AUX, NUL, COM0-9, LPT0-9 (also
//     with the superscripts ¹ ² ³), CONIN$, CONOUT$ — in any case, with or
//     without an extension ("nul.txt", "COM1 .log" open the device).
// Share roots must be absolute local paths: "C:\dir" (or "C:/dir") or the
// long form "\\?\C:\dir". Relative, drive-relative ("C:dir"), rooted
// without a drive ("\dir") and UNC ("\\server\share", "\\?\UNC\...") roots
// are refused: the service account has no network credentials, and a root
// that depends on the current drive or directory is not a fixed place.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sealrelay::agent::windows_names {

// Why `component` (one requester path component, already past
// request_path.h's syntax) cannot name a file on Windows, as the end of a
// sentence starting "the path ..."; nullopt when it can.
std::optional<std::string> component_problem(std::string_view component);

// Why `root` is not acceptable as a Windows share root (a sentence for the
// admin); nullopt when it is.
std::optional<std::string> root_problem(std::string_view root);

// `root` as a long path: "\\?\C:\dir" with backslashes, no trailing
// separator (but "\\?\C:\" for a drive's root). `root` must have passed
// root_problem().
std::string long_root(std::string_view root);

// Whether `a` and `b` are equal with ASCII letters compared without case,
// every other byte exactly (UTF-8 beyond ASCII is compared as it is).
bool equal_ignoring_case(std::string_view a, std::string_view b);

// `text` with ASCII letters lowered.
std::string ascii_lower(std::string_view text);

}  // namespace sealrelay::agent::windows_names
