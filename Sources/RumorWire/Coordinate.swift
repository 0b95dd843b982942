/// A Vivaldi network coordinate as Serf carries it in ack payloads and RPC replies (docs/protocol.md#coordinates). The
/// arithmetic lives in the core; this is the data and its encoding.
public struct Coordinate: Sendable, Hashable {
    public var vec: [Double]
    public var error: Double
    public var adjustment: Double
    public var height: Double

    public init(vec: [Double], error: Double, adjustment: Double, height: Double) {
        self.vec = vec
        self.error = error
        self.adjustment = adjustment
        self.height = height
    }
}

/// `[PingVersion = 1]` + msgpack `{Adjustment, Error, Height, Vec}`: what serf's ping delegate puts in an ack.
public enum PingPayload {
    public static let version: UInt8 = 1

    public static func encode(_ c: Coordinate) -> [UInt8] {
        var w = MessagePackWriter(.gossip, capacity: 40 + 9 * c.vec.count)
        w.appendRaw(CollectionOfOne(version))
        w.writeMapHeader(4)
        w.write("Adjustment"); w.write(c.adjustment)
        w.write("Error"); w.write(c.error)
        w.write("Height"); w.write(c.height)
        w.write("Vec")
        w.writeArrayHeader(c.vec.count)
        for d in c.vec { w.write(d) }
        return w.bytes
    }

    /// Throws for another ping version or a malformed coordinate; the message says which.
    public static func decode(_ bytes: [UInt8]) throws -> Coordinate {
        guard let first = bytes.first else { throw WireError("empty ping payload") }
        guard first == version else { throw WireError("unsupported ping version \(first)") }
        var r = MessagePackReader(bytes, offset: 1)
        let f = try MessagePackFields(r.read(), context: "coordinate")
        guard let list = f["Vec"]?.arrayValue else { throw WireError("coordinate.Vec: expected an array") }
        let vec = try list.map { v -> Double in
            guard let d = v.doubleValue else { throw WireError("coordinate.Vec: expected floats") }
            return d
        }
        return Coordinate(
            vec: vec, error: try f.double("Error"), adjustment: try f.double("Adjustment"), height: try f.double("Height"))
    }
}
