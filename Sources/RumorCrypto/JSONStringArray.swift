/// Just enough JSON for keyring files (no Foundation here): a strict RFC 8259 parser that tells "not JSON" apart
/// from "JSON, but not an array of strings", and a writer matching Go's `json.MarshalIndent(keys, "", "  ")`.
enum JSONStringArray {
    enum ParseError: Error, Equatable {
        /// The text is not JSON; the detail says what and where.
        case notJSON(String)
        /// Valid JSON of another shape.
        case notStringArray
    }

    static func parse(_ bytes: [UInt8]) throws(ParseError) -> [String] {
        var parser = Parser(bytes: bytes)
        let value = try parser.document()
        guard case .array(let items) = value else { throw .notStringArray }
        var strings: [String] = []
        for item in items {
            guard case .string(let string) = item else { throw .notStringArray }
            strings.append(string)
        }
        return strings
    }

    /// Go's MarshalIndent layout: one element per line, two-space indent, no trailing newline.
    static func write(_ strings: [String]) -> [UInt8] {
        guard !strings.isEmpty else { return Array("[]".utf8) }
        let lines = strings.map { "  " + quote($0) }
        return Array(("[\n" + lines.joined(separator: ",\n") + "\n]").utf8)
    }

    static func quote(_ string: String) -> String {
        var out = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            // Go also escapes <, > and & (HTML safety); base64 never contains them, but match anyway.
            case _ where scalar.value < 0x20 || scalar == "<" || scalar == ">" || scalar == "&":
                let digits = Array("0123456789abcdef")
                out += "\\u00" + String(digits[Int(scalar.value >> 4)]) + String(digits[Int(scalar.value & 15)])
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    indirect enum Value {
        case string(String)
        case array([Value])
        case other
    }

    struct Parser {
        let bytes: [UInt8]
        var index = 0
        /// Bounds recursion so a hostile file of "[[[[..." cannot overflow the stack.
        static let maxDepth = 256

        init(bytes: [UInt8]) {
            self.bytes = bytes
        }

        mutating func document() throws(ParseError) -> Value {
            let value = try self.value(depth: 0)
            skipWhitespace()
            guard index == bytes.count else { throw fail("unexpected data after the top-level value") }
            return value
        }

        func fail(_ what: String) -> ParseError {
            index < bytes.count ? .notJSON("\(what) at byte \(index)") : .notJSON("unexpected end of input")
        }

        mutating func skipWhitespace() {
            while index < bytes.count, [0x20, 0x09, 0x0a, 0x0d].contains(bytes[index]) { index += 1 }
        }

        mutating func value(depth: Int) throws(ParseError) -> Value {
            guard depth < Self.maxDepth else { throw fail("nesting deeper than \(Self.maxDepth)") }
            skipWhitespace()
            guard index < bytes.count else { throw fail("expected a value") }
            switch bytes[index] {
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
            default: throw fail("expected a value")
            }
            return .other
        }

        mutating func expect(_ char: UInt8) throws(ParseError) {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == char else {
                throw fail("expected '\(Character(Unicode.Scalar(char)))'")
            }
            index += 1
        }

        /// After an opening bracket: true if the container closes immediately.
        mutating func closesEmpty(_ close: UInt8) -> Bool {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == close else { return false }
            index += 1
            return true
        }

        /// After an element: true if the container closes, false after a comma.
        mutating func closesAfterElement(_ close: UInt8) throws(ParseError) -> Bool {
            skipWhitespace()
            guard index < bytes.count else { throw fail("unterminated container") }
            if bytes[index] == close {
                index += 1
                return true
            }
            try expect(UInt8(ascii: ","))
            return false
        }

        mutating func array(depth: Int) throws(ParseError) -> Value {
            index += 1
            var items: [Value] = []
            if closesEmpty(UInt8(ascii: "]")) { return .array(items) }
            repeat { items.append(try value(depth: depth + 1)) } while try !closesAfterElement(UInt8(ascii: "]"))
            return .array(items)
        }

        mutating func object(depth: Int) throws(ParseError) -> Value {
            index += 1
            if closesEmpty(UInt8(ascii: "}")) { return .other }
            repeat {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a key") }
                _ = try string()
                try expect(UInt8(ascii: ":"))
                _ = try value(depth: depth + 1)
            } while try !closesAfterElement(UInt8(ascii: "}"))
            return .other
        }

        mutating func literal(_ word: String) throws(ParseError) {
            let expected = Array(word.utf8)
            guard bytes.count - index >= expected.count, Array(bytes[index..<index + expected.count]) == expected
            else { throw fail("invalid literal") }
            index += expected.count
        }

        mutating func digits() -> Int {
            let start = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            return index - start
        }

        mutating func number() throws(ParseError) {
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) else {
                throw fail("expected a digit")
            }
            if bytes[index] == UInt8(ascii: "0") { index += 1 } else { _ = digits() }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard digits() > 0 else { throw fail("expected a digit") }
            }
            if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                    index += 1
                }
                guard digits() > 0 else { throw fail("expected a digit") }
            }
        }

        mutating func string() throws(ParseError) -> String {
            index += 1
            var utf8: [UInt8] = []
            while true {
                guard index < bytes.count else { throw fail("unterminated string") }
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "\""):
                    index += 1
                    guard let string = String(validating: utf8, as: UTF8.self) else {
                        throw .notJSON("invalid UTF-8 in a string")
                    }
                    return string
                case UInt8(ascii: "\\"):
                    index += 1
                    try escape(into: &utf8)
                case 0..<0x20:
                    throw fail("control character in a string")
                default:
                    utf8.append(byte)
                    index += 1
                }
            }
        }

        mutating func escape(into utf8: inout [UInt8]) throws(ParseError) {
            guard index < bytes.count else { throw fail("unterminated escape") }
            let simple: [UInt8: UInt8] = [
                UInt8(ascii: "\""): 0x22, UInt8(ascii: "\\"): 0x5c, UInt8(ascii: "/"): 0x2f, UInt8(ascii: "b"): 0x08,
                UInt8(ascii: "f"): 0x0c, UInt8(ascii: "n"): 0x0a, UInt8(ascii: "r"): 0x0d, UInt8(ascii: "t"): 0x09,
            ]
            if let decoded = simple[bytes[index]] {
                utf8.append(decoded)
                index += 1
                return
            }
            guard bytes[index] == UInt8(ascii: "u") else { throw fail("invalid escape") }
            index += 1
            var scalar = try hex4()
            if (0xd800..<0xdc00).contains(scalar) {
                // A high surrogate must be followed by an escaped low surrogate.
                let escapedLow = bytes.count - index >= 2 && bytes[index] == UInt8(ascii: "\\")
                    && bytes[index + 1] == UInt8(ascii: "u")
                guard escapedLow else { throw fail("unpaired surrogate") }
                index += 2
                let low = try hex4()
                guard (0xdc00..<0xe000).contains(low) else { throw fail("unpaired surrogate") }
                scalar = 0x10000 + (scalar - 0xd800) << 10 + (low - 0xdc00)
            }
            guard let unicode = Unicode.Scalar(scalar) else { throw fail("unpaired surrogate") }
            utf8.append(contentsOf: String(Character(unicode)).utf8)
        }

        mutating func hex4() throws(ParseError) -> UInt32 {
            guard bytes.count - index >= 4 else { throw fail("truncated \\u escape") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                guard let digit = hexDigit(bytes[index]) else { throw fail("invalid \\u escape") }
                value = value << 4 | digit
                index += 1
            }
            return value
        }

        func hexDigit(_ byte: UInt8) -> UInt32? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
            default: nil
            }
        }
    }
}
