/// Splits a byte stream into lines, keeping a partial last line for the next chunk (Docker's event and pull
/// streams are JSON lines, cut anywhere by chunked encoding).
struct JSONLines: Sendable {
    private var pending: [UInt8] = []
    /// A line longer than this is garbage or hostile: dropped, not buffered forever.
    static let maximumLine = 1 << 20

    mutating func feed(_ bytes: [UInt8]) -> [String] {
        var lines: [String] = []
        for b in bytes {
            if b == UInt8(ascii: "\n") {
                if !pending.isEmpty { lines.append(String(decoding: pending, as: UTF8.self)) }
                pending.removeAll(keepingCapacity: true)
            } else if pending.count < Self.maximumLine {
                pending.append(b)
            }
        }
        return lines
    }
}
