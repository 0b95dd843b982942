/// Keeps the last `capacity` bytes written, and how many were written in all (Serf's `circbuf`, 8 KiB per run), so
/// a runaway script cannot grow the agent's memory.
public struct OutputRing: Sendable {
    public static let serfCapacity = 8 * 1024

    public let capacity: Int
    private var storage: [UInt8]
    public private(set) var totalWritten = 0

    public init(capacity: Int = OutputRing.serfCapacity) {
        self.capacity = max(1, capacity)
        storage = [UInt8](repeating: 0, count: self.capacity)
    }

    public mutating func write(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        // Only the last `capacity` bytes of a large write can survive.
        let keep = bytes.count > capacity ? UnsafeRawBufferPointer(rebasing: bytes[(bytes.count - capacity)...]) : bytes
        var at = (totalWritten + bytes.count - keep.count) % capacity
        var from = 0
        while from < keep.count {
            let n = min(keep.count - from, capacity - at)
            storage.withUnsafeMutableBytes { dst in
                dst.baseAddress!.advanced(by: at).copyMemory(from: keep.baseAddress!.advanced(by: from), byteCount: n)
            }
            from += n
            at = (at + n) % capacity
        }
        totalWritten += bytes.count
    }

    public mutating func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { write($0) }
    }

    /// Whether older output was overwritten.
    public var isTruncated: Bool { totalWritten > capacity }

    /// The kept bytes, oldest first.
    public var bytes: [UInt8] {
        guard isTruncated else { return Array(storage[..<totalWritten]) }
        let split = totalWritten % capacity
        return Array(storage[split...] + storage[..<split])
    }
}
