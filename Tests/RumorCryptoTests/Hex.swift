/// Bytes from hex text; parts are concatenated and whitespace ignored.
/// A malformed literal is a bug in the test itself, hence the trap.
func hex(_ parts: String...) -> [UInt8] {
    let digits = parts.joined().unicodeScalars.filter { !$0.properties.isWhitespace }.map(Character.init)
    precondition(digits.count % 2 == 0, "odd number of hex digits")
    return stride(from: 0, to: digits.count, by: 2).map { i in
        guard let b = UInt8(String(digits[i...i + 1]), radix: 16) else { preconditionFailure("bad hex at \(i)") }
        return b
    }
}

/// Lower-case hex, for readable failure messages.
func hexString<C: Collection<UInt8>>(_ bytes: C) -> String {
    let digits = Array("0123456789abcdef")
    var s = ""
    for b in bytes {
        s.append(digits[Int(b >> 4)])
        s.append(digits[Int(b & 0x0f)])
    }
    return s
}
