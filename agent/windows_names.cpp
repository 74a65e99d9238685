#include "agent/windows_names.h"


namespace sealrelay::agent::windows_names {

namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_letter(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

// Whether `base` (a name up to its first '.', trailing spaces removed) is a
// device Win32 opens instead of a file.
bool is_device(std::string_view base) {
  std::string b = ascii_lower(base);
  for (std::string_view d : {"con", "prn", "aux", "nul", "conin$", "conout$"})
    if (b == d) return true;
  if (b.size() < 4 || (b.compare(0, 3, "com") != 0 && b.compare(0, 3, "lpt") != 0)) return false;
  std::string_view n = std::string_view(b).substr(3);
  if (n.size() == 1) return n[0] >= '0' && n[0] <= '9';
  // ¹ ² ³ in UTF-8 (Win32 treats "COM¹" as a device too).
  return n == "\xC2\xB9" || n == "\xC2\xB2" || n == "\xC2\xB3";
}

}  // namespace

std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = lower(c);
  return out;
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::optional<std::string> component_problem(std::string_view c) {
  for (char ch : c) {
    auto u = static_cast<unsigned char>(ch);
    if (ch == ':') return "names an alternate data stream or a drive (':'), which the agent does not serve";
    if (ch == '\\') return "has a '\\' in a name (Windows reads it as a separator)";
    if (u < 0x20 || std::string_view("<>\"|?*").find(ch) != std::string_view::npos)
      return "has a character Windows does not allow in file names";
  }
  if (!c.empty() && (c.back() == '.' || c.back() == ' '))
    return "has a name ending in '.' or ' ' (Windows would open another name)";
  std::string_view base = c.substr(0, c.find('.'));
  while (!base.empty() && base.back() == ' ') base.remove_suffix(1);
  if (is_device(base)) return "names a Windows device (CON, NUL, COM1, LPT1, ...)";
  return std::nullopt;
}

std::optional<std::string> root_problem(std::string_view root) {
  if (root.find('\0') != std::string_view::npos) return "the root contains a NUL byte";
  std::string_view rest = root;
  if (rest.substr(0, 4) == "\\\\?\\") rest.remove_prefix(4);
  else if (rest.size() >= 2 && (rest[0] == '\\' || rest[0] == '/') && (rest[1] == '\\' || rest[1] == '/'))
    return "the root must be a local folder such as C:\\data, not a network (UNC) path";
  if (rest.size() < 3 || !is_letter(rest[0]) || rest[1] != ':' || (rest[2] != '\\' && rest[2] != '/'))
    return "the root must be an absolute path with a drive letter, such as C:\\data";
  std::string slashed = "\\" + std::string(rest.substr(3)) + "\\";
  for (char& ch : slashed)
    if (ch == '/') ch = '\\';
  if (slashed.find("\\..\\") != std::string::npos || slashed.find("\\.\\") != std::string::npos)
    return "the root must not contain '.' or '..' components";
  return std::nullopt;
}

std::string long_root(std::string_view root) {
  std::string out(root);
  if (out.substr(0, 4) != "\\\\?\\") out = "\\\\?\\" + out;
  for (char& c : out)
    if (c == '/') c = '\\';
  while (out.size() > 7 && out.back() == '\\') out.pop_back();  // Keep "\\?\C:\".
  if (out.size() == 6) out += '\\';                              // "\\?\C:" → "\\?\C:\".
  return out;
}

}  // namespace sealrelay::agent::windows_names
