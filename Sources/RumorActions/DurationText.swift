/// Go-style duration text ("100ms", "1.5s", "1m30s"), the spelling Serf and Consul users already write.
enum DurationText {
    /// Parses `text`; nil when it is not a duration. A bare "0" is allowed, as in Go.
    static func parse(_ text: String) -> Duration? {
        let s = Array(text.trimmingSpaces().utf8)
        if s == Array("0".utf8) { return .zero }
        guard !s.isEmpty else { return nil }
        var i = 0
        var totalNanoseconds = 0.0
        while i < s.count {
            let numberStart = i
            while i < s.count, (s[i] >= UInt8(ascii: "0") && s[i] <= UInt8(ascii: "9")) || s[i] == UInt8(ascii: ".") {
                i += 1
            }
            guard i > numberStart, let value = Double(String(decoding: s[numberStart..<i], as: UTF8.self)) else {
                return nil
            }
            let unitStart = i
            while i < s.count, !(s[i] >= UInt8(ascii: "0") && s[i] <= UInt8(ascii: "9")), s[i] != UInt8(ascii: ".") {
                i += 1
            }
            let unit = String(decoding: s[unitStart..<i], as: UTF8.self)
            let scale: Double
            switch unit {
            case "ns": scale = 1
            case "us", "µs": scale = 1e3
            case "ms": scale = 1e6
            case "s": scale = 1e9
            case "m": scale = 60e9
            case "h": scale = 3600e9
            default: return nil
            }
            totalNanoseconds += value * scale
        }
        guard totalNanoseconds.isFinite, totalNanoseconds < 1e18 else { return nil }
        return .nanoseconds(Int64(totalNanoseconds.rounded()))
    }

    /// The shortest Go-style spelling of `duration`, for logs and error messages.
    static func format(_ duration: Duration) -> String {
        let ms = duration.milliseconds
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(ms)ms"
    }
}

extension Duration {
    /// Whole milliseconds (rounded toward zero).
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

extension String {
    func trimmingSpaces() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
