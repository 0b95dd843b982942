import RumorCore

/// Keeps a flood of bad input from flooding the log.
///
/// Warnings are grouped by *kind*: the message with its variable parts (quoted names, addresses, numbers) blanked
/// out, so a peer cannot defeat the limit by varying the names it sends. Each kind is logged at most once per
/// `interval`, and all kinds together at most `burst` lines per interval; the next line of a kind says how many
/// were suppressed in between. Control characters are escaped so hostile names cannot forge log lines.
struct WarningLimiter {
    var interval: Duration = .seconds(5)
    var burst = 20
    private var last: [String: (at: Instant, suppressed: Int)] = [:]
    private var windowStart: Instant = .zero
    private var windowCount = 0

    /// Returns the line to log, or nil if this warning is suppressed.
    mutating func admit(_ message: String, at now: Instant) -> String? {
        let kind = Self.kind(of: message)
        if now - windowStart >= interval {
            windowStart = now
            windowCount = 0
        }
        if let seen = last[kind], now - seen.at < interval || windowCount >= burst {
            last[kind] = (seen.at, seen.suppressed + 1)
            return nil
        }
        guard windowCount < burst else {
            last[kind] = (now, 1)
            return nil
        }
        windowCount += 1
        let suppressed = last[kind]?.suppressed ?? 0
        last[kind] = (now, 0)
        if last.count > 256 { last = [:] }  // kinds are few; this only bounds memory against the unforeseen
        let line = Self.escaped(message)
        return suppressed > 0 ? "\(line) (\(suppressed) similar suppressed)" : line
    }

    /// The message with quoted text and digits blanked, cut short: what stays is the fixed wording.
    static func kind(of message: String) -> String {
        var out = ""
        var quoted = false
        for ch in message.prefix(200) {
            if ch == "'" { quoted.toggle(); continue }
            if quoted || ch.isNumber { continue }
            out.append(ch)
            if out.count >= 60 { break }
        }
        return out
    }

    static func escaped(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            if u.value < 0x20 || u.value == 0x7f {
                out += "\\x" + (u.value < 16 ? "0" : "") + String(u.value, radix: 16)
            } else {
                out.unicodeScalars.append(u)
            }
        }
        return out
    }
}
