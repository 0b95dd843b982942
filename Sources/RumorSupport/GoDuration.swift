/// Go's duration text ("100ms", "1.5s", "1m30s"), the spelling Serf, Consul and Nomad users already write.
public enum GoDuration {
    /// Parses `text`; nil when it is not a duration or does not fit in 290 years. A bare "0" is allowed, as in Go.
    public static func parse(_ text: String) -> Duration? {
        let s = Array(text.utf8)
        if s == Array("0".utf8) { return .zero }
        guard !s.isEmpty else { return nil }
        var i = 0
        var total = 0.0
        func isNumber(_ c: UInt8) -> Bool { (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: ".") }
        while i < s.count {
            let start = i
            while i < s.count, isNumber(s[i]) { i += 1 }
            guard i > start, let value = Double(String(decoding: s[start..<i], as: UTF8.self)) else { return nil }
            let unitStart = i
            while i < s.count, !isNumber(s[i]) { i += 1 }
            let scale: Double
            switch String(decoding: s[unitStart..<i], as: UTF8.self) {
            case "ns": scale = 1
            case "us", "µs": scale = 1e3
            case "ms": scale = 1e6
            case "s": scale = 1e9
            case "m": scale = 60e9
            case "h": scale = 3600e9
            default: return nil
            }
            total += value * scale
        }
        guard total.isFinite, total < 9e18 else { return nil }
        return .nanoseconds(Int64(total.rounded()))
    }

    /// The shortest Go-style spelling of whole seconds or milliseconds, for logs and errors.
    public static func format(_ duration: Duration) -> String {
        let (s, a) = duration.components
        let ms = a / 1_000_000_000_000_000
        return ms == 0 ? "\(s)s" : "\(s * 1000 + ms)ms"
    }
}
