extension JSON {
    /// Where and why a document is not JSON; `path` is the key path to the value that broke ("tags.role"), so an
    /// error in a config file names the setting.
    public struct ParseError: Error, CustomStringConvertible, Sendable, Equatable {
        public var reason: String
        public var line: Int
        public var column: Int
        public var path: String

        public init(reason: String, line: Int, column: Int, path: String) {
            self.reason = reason
            self.line = line
            self.column = column
            self.path = path
        }

        public var description: String {
            "\(reason) at line \(line), column \(column)" + (path.isEmpty ? "" : " (in \(path))")
        }
    }

    /// Values nest at most this deep, so a hostile "[[[[..." cannot overflow the stack.
    public static let maxDepth = 64

    /// Parses a whole document (RFC 8259, strictly: UTF-8 only, no trailing data, numbers must be finite).
    public static func parse(_ bytes: [UInt8]) throws(ParseError) -> JSON {
        var reader = Reader(bytes: bytes)
        return try reader.document()
    }

    public static func parse(_ text: String) throws(ParseError) -> JSON {
        try parse(Array(text.utf8))
    }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0
        var path: [String] = []

        init(bytes: [UInt8]) { self.bytes = bytes }

        func fail(_ reason: String) -> ParseError {
            var line = 1
            var column = 1
            for b in bytes.prefix(index) {
                if b == 0x0a { line += 1; column = 1 } else if b & 0xc0 != 0x80 { column += 1 }
            }
            let atEnd = index >= bytes.count && !reason.hasPrefix("invalid UTF-8")
            return ParseError(reason: atEnd ? "unexpected end of input" : reason, line: line, column: column, path: path.joined(separator: "."))
        }

        mutating func document() throws(ParseError) -> JSON {
            let value = try self.value(depth: 0)
            skipWhitespace()
            guard index == bytes.count else { throw fail("unexpected data after the top-level value") }
            return value
        }

        mutating func skipWhitespace() {
            while index < bytes.count, [0x20, 0x09, 0x0a, 0x0d].contains(bytes[index]) { index += 1 }
        }

        mutating func value(depth: Int) throws(ParseError) -> JSON {
            guard depth < JSON.maxDepth else { throw fail("nesting deeper than \(JSON.maxDepth)") }
            skipWhitespace()
            guard index < bytes.count else { throw fail("expected a value") }
            switch bytes[index] {
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
            default: throw fail("expected a value")
            }
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

        mutating func array(depth: Int) throws(ParseError) -> JSON {
            index += 1
            var items: [JSON] = []
            if closesEmpty(UInt8(ascii: "]")) { return .array(items) }
            repeat {
                path.append("[\(items.count)]")
                items.append(try value(depth: depth + 1))
                path.removeLast()
            } while try !closesAfterElement(UInt8(ascii: "]"))
            return .array(items)
        }

        mutating func object(depth: Int) throws(ParseError) -> JSON {
            index += 1
            var pairs: [(String, JSON)] = []
            if closesEmpty(UInt8(ascii: "}")) { return .object(pairs) }
            repeat {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a key") }
                let key = try string()
                try expect(UInt8(ascii: ":"))
                path.append(JSON.excerpt(key, limit: 40, quoted: false))
                pairs.append((key, try value(depth: depth + 1)))
                path.removeLast()
            } while try !closesAfterElement(UInt8(ascii: "}"))
            return .object(pairs)
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

        mutating func number() throws(ParseError) -> Double {
            let start = index
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
            guard let value = Double(String(decoding: bytes[start..<index], as: UTF8.self)), value.isFinite else {
                index = start
                throw fail("number out of range")
            }
            return value
        }

        mutating func string() throws(ParseError) -> String {
            let start = index
            index += 1
            var utf8: [UInt8] = []
            while true {
                guard index < bytes.count else { throw fail("unterminated string") }
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "\""):
                    index += 1
                    guard let string = String(validating: utf8, as: UTF8.self) else {
                        index = start
                        throw fail("invalid UTF-8 in a string")
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
