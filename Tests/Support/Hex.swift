/// Bytes from hex text. Parts are concatenated and whitespace is ignored, so long vectors can be split across lines.
/// A malformed literal is a bug in the test itself, hence the trap.
package func hex(_ parts: String...) -> [UInt8] {
    let digits = parts.joined().unicodeScalars.filter { !$0.properties.isWhitespace }.map(Character.init)
    precondition(digits.count % 2 == 0, "odd number of hex digits")
    return stride(from: 0, to: digits.count, by: 2).map { i in
        guard let b = UInt8(String(digits[i...i + 1]), radix: 16) else { preconditionFailure("bad hex at \(i)") }
        return b
    }
}

/// Lower-case hex of `bytes`, for readable failure messages.
package func hexString<C: Collection<UInt8>>(_ bytes: C) -> String {
    let digits = Array("0123456789abcdef")
    var s = ""
    s.reserveCapacity(bytes.count * 2)
    for b in bytes {
        s.append(digits[Int(b >> 4)])
        s.append(digits[Int(b & 0x0f)])
    }
    return s
}

/// SplitMix64: a tiny deterministic generator so fuzz-style tests are reproducible (no global randomness).
package struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    package init(seed: UInt64) { state = seed }

    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    package mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) }
    }
}
