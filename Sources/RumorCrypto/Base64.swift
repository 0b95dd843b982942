/// Standard base64 (RFC 4648 alphabet, `=` padding), as Go's `base64.StdEncoding` used by Serf for keys.
/// Decoding is strict: only whole padded quads, padding only at the end, and the unused trailing bits must be zero,
/// so every accepted text round-trips exactly. Like Go, CR and LF are skipped (a key pasted with a line break).
public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xff, count: 256)
        for (index, char) in alphabet.enumerated() { table[Int(char)] = UInt8(index) }
        return table
    }()

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let remaining = bytes.count - index
            let b0 = UInt32(bytes[index])
            let b1 = remaining > 1 ? UInt32(bytes[index + 1]) : 0
            let b2 = remaining > 2 ? UInt32(bytes[index + 2]) : 0
            let group = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(group >> 18 & 63)])
            out.append(alphabet[Int(group >> 12 & 63)])
            out.append(remaining > 1 ? alphabet[Int(group >> 6 & 63)] : UInt8(ascii: "="))
            out.append(remaining > 2 ? alphabet[Int(group & 63)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The decoded bytes, or nil when `text` is not strict standard base64.
    public static func decode(_ text: String) -> [UInt8]? {
        let chars = text.utf8.filter { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }
        guard chars.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 4 * 3)
        var quadStart = 0
        while quadStart < chars.count {
            let isLast = quadStart + 4 == chars.count
            var group: UInt32 = 0
            var padding = 0
            for offset in 0..<4 {
                let char = chars[quadStart + offset]
                if char == UInt8(ascii: "=") {
                    // Padding may only fill the last one or two places of the final quad.
                    guard isLast, offset >= 2 else { return nil }
                    padding += 1
                    group <<= 6
                    continue
                }
                guard padding == 0 else { return nil }
                let value = values[Int(char)]
                guard value != 0xff else { return nil }
                group = group << 6 | UInt32(value)
            }
            let produced = 3 - padding
            // Non-canonical input (set bits under the padding) would decode to the same bytes as another text.
            if padding == 1, group & 0xff != 0 { return nil }
            if padding == 2, group & 0xffff != 0 { return nil }
            for shift in [16, 8, 0].prefix(produced) { out.append(UInt8(truncatingIfNeeded: group >> UInt32(shift))) }
            quadStart += 4
        }
        return out
    }
}
