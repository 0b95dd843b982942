import RumorWire

/// Go's `%#v` of a value that go-msgpack (RPC handle: RawToString) decoded into `interface{}`, which is how
/// `serf monitor` prints event records ("\tPayload: []byte{0x68, 0x69}").
///
/// go-msgpack decodes a positive fixint as `int64` (printed in decimal) but a `cc`…`cf` integer as `uint64` (printed
/// as `0x…`). Our decoder keeps no wire width; every encoder involved (Go's and ours) uses the shortest form, so a
/// non-negative value below 128 was a fixint and anything larger was not.
enum GoSyntax {
    /// `top`: the value itself is what is printed (a nil interface prints `<nil>`); nested nils print typed.
    static func format(_ value: MessagePack, top: Bool = true) -> String {
        switch value {
        case .null:
            return top ? "<nil>" : "interface {}(nil)"
        case .bool(let b):
            return b ? "true" : "false"
        case .int(let i):
            return String(i)
        case .uint(let u):
            return u < 128 ? String(u) : "0x" + String(u, radix: 16)
        case .double(let d):
            return formatFloat(d)
        case .string(let bytes):
            return quote(bytes)
        case .binary(let bytes):
            // fmt names the type `[]byte` only for the value itself; inside a container it prints `[]uint8`.
            return (top ? "[]byte{" : "[]uint8{") + bytes.map { "0x" + String($0, radix: 16) }.joined(separator: ", ")
                + "}"
        case .array(let items):
            return "[]interface {}{" + items.map { format($0, top: false) }.joined(separator: ", ") + "}"
        case .map(let pairs):
            // fmt prints map entries sorted; every key here is a string, so by their bytes.
            let entries = pairs.map { (key: format($0.key, top: false), value: format($0.value, top: false)) }
                .sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            return "map[interface {}]interface {}{" + entries.map { "\($0.key):\($0.value)" }.joined(separator: ", ")
                + "}"
        case .ext(let type, let data):
            return "[]byte{" + ([UInt8(bitPattern: type)] + data).map { "0x" + String($0, radix: 16) }
                .joined(separator: ", ") + "}"
        }
    }

    /// `strconv.Quote`: printable text as is, the usual backslash escapes, `\x..` for other control bytes and for
    /// bytes that are not UTF-8.
    static func quote(_ bytes: [UInt8]) -> String {
        var out = "\""
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b < 0x80 {
                switch b {
                case 0x07: out += "\\a"
                case 0x08: out += "\\b"
                case 0x0c: out += "\\f"
                case 0x0a: out += "\\n"
                case 0x0d: out += "\\r"
                case 0x09: out += "\\t"
                case 0x0b: out += "\\v"
                case 0x5c: out += "\\\\"
                case 0x22: out += "\\\""
                case 0..<0x20, 0x7f: out += "\\x" + hex2(b)
                default: out.unicodeScalars.append(Unicode.Scalar(b))
                }
                i += 1
                continue
            }
            // One UTF-8 sequence, or a lone invalid byte.
            let length = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1
            if length > 1, i + length <= bytes.count,
               let scalar = String(validating: bytes[i..<i + length], as: UTF8.self)?.unicodeScalars.first
            {
                if scalar.properties.generalCategory.isPrintable {
                    out.unicodeScalars.append(scalar)
                } else if scalar.value < 0x10000 {
                    out += "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                        + String(scalar.value, radix: 16)
                } else {
                    out += "\\U" + String(repeating: "0", count: 8 - String(scalar.value, radix: 16).count)
                        + String(scalar.value, radix: 16)
                }
                i += length
            } else {
                out += "\\x" + hex2(b)
                i += 1
            }
        }
        return out + "\""
    }

    private static func hex2(_ b: UInt8) -> String { (b < 16 ? "0" : "") + String(b, radix: 16) }

    /// `%#v` of a float64 (`strconv.FormatFloat(f, 'g', -1, 64)`), for the shortest round-tripping text.
    private static func formatFloat(_ d: Double) -> String {
        if d == d.rounded(), abs(d) < 1e21 { return String(Int64(d)) }
        return "\(d)"
    }
}

private extension Unicode.GeneralCategory {
    /// Go's `unicode.IsPrint` minus the ASCII space handling (which never reaches here): letters, marks, numbers,
    /// punctuation, symbols and the ASCII space.
    var isPrintable: Bool {
        switch self {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator,
             .spaceSeparator:
            false
        default:
            true
        }
    }
}
