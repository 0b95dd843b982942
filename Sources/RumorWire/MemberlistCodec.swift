/// Encodes and decodes memberlist packets (UDP) and stream messages (TCP), byte-compatible with memberlist 0.2.2 as
/// compiled into serf 0.8.2 (docs/protocol.md#packets, #streams). Pure: hostile bytes only produce a `WireError`.
public enum MemberlistCodec {
    /// How deep compound and compress containers may nest inside one packet. memberlist itself has no limit; real
    /// agents nest at most two (CRC > compress > compound), so 4 leaves room while bounding recursion.
    public static let maxNesting = 4
    /// Total decompressed bytes one packet may expand to, across all nested compress messages. A UDP packet is at
    /// most 64 KiB; real agents compress about 1.4 KB, so this only stops zip bombs.
    public static let packetDecompressLimit = 1 << 20
    /// Decompressed size limit for a stream (push-pull of a large cluster is a few hundred KB).
    public static let streamDecompressLimit = 16 << 20
    /// memberlist refuses encrypted stream frames declaring more than this (docs/protocol.md#stream-framing).
    public static let maxEncryptedStreamLength = 20 << 20

    // MARK: - Encoding

    /// One message with its type byte, gossip dialect, struct keys in sorted order exactly like go-msgpack
    /// (empty omitempty fields of ping/indirectPing left out: docs/protocol.md#message-bodies). `.user(b)` is [8] + b.
    /// `.err(s)` as [13]{Error}. `.pushPull` as [6] header{Join,Nodes,UserStateLen} + node states + userState bytes.
    public static func encode(_ message: MemberlistMessage) -> [UInt8] {
        switch message {
        case .ping(let p):
            var w = writer(.ping)
            writePing(p, into: &w)
            return w.bytes
        case .indirectPing(let p):
            var w = writer(.indirectPing)
            writeIndirectPing(p, into: &w)
            return w.bytes
        case .ack(let a):
            var w = writer(.ack, capacity: 24 + a.payload.count)
            w.writeMapHeader(2)
            w.write("Payload")
            // memberlist sends a nil slice when there is no payload; keep that form for an empty one.
            if a.payload.isEmpty { w.writeNil() } else { w.writeBytes(a.payload) }
            w.write("SeqNo")
            w.write(a.seqNo)
            return w.bytes
        case .nack(let n):
            var w = writer(.nack)
            w.writeMapHeader(1)
            w.write("SeqNo")
            w.write(n.seqNo)
            return w.bytes
        case .suspect(let s):
            var w = writer(.suspect)
            writeAccusation(from: s.from, incarnation: s.incarnation, node: s.node, into: &w)
            return w.bytes
        case .alive(let a):
            var w = writer(.alive, capacity: 80 + a.meta.count + a.node.utf8.count)
            writeAlive(a, into: &w)
            return w.bytes
        case .dead(let d):
            var w = writer(.dead)
            writeAccusation(from: d.from, incarnation: d.incarnation, node: d.node, into: &w)
            return w.bytes
        case .pushPull(let pp):
            var w = writer(.pushPull, capacity: 64 + pp.nodes.count * 96 + pp.userState.count)
            writePushPull(pp, into: &w)
            return w.bytes
        case .user(let payload):
            var out: [UInt8] = []
            out.reserveCapacity(1 + payload.count)
            out.append(MessageType.user.rawValue)
            out.append(contentsOf: payload)
            return out
        case .err(let text):
            var w = writer(.err)
            w.writeMapHeader(1)
            w.write("Error")
            w.write(text)
            return w.bytes
        }
    }

    /// A user message for a stream (`SendReliable`, docs/protocol.md#stream-user-message): `[8]{UserMsgLen}` + payload.
    /// Packets use `encode(.user)` instead.
    public static func encodeStreamUser(_ payload: [UInt8]) -> [UInt8] {
        var w = writer(.user, capacity: 24 + payload.count)
        w.writeMapHeader(1)
        w.write("UserMsgLen")
        w.write(payload.count)
        w.appendRaw(payload)
        return w.bytes
    }

    /// [7][n u8][len u16 BE]...[parts]; precondition parts.count <= 255 and each part < 65536.
    public static func compound(_ parts: [[UInt8]]) -> [UInt8] {
        precondition(parts.count <= 255, "compound message holds at most 255 parts, got \(parts.count)")
        var out: [UInt8] = []
        out.reserveCapacity(2 + 2 * parts.count + parts.reduce(0) { $0 + $1.count })
        out.append(MessageType.compound.rawValue)
        out.append(UInt8(parts.count))
        for p in parts {
            precondition(p.count < 65536, "compound part of \(p.count) bytes exceeds the u16 length field")
            out.append(UInt8(p.count >> 8))
            out.append(UInt8(p.count & 0xff))
        }
        for p in parts { out.append(contentsOf: p) }
        return out
    }

    /// [12][crc32 BE][bytes]
    public static func withCRC(_ bytes: [UInt8]) -> [UInt8] {
        let crc = CRC32.checksum(bytes)
        var out: [UInt8] = []
        out.reserveCapacity(5 + bytes.count)
        out.append(MessageType.hasCRC.rawValue)
        out.append(UInt8(truncatingIfNeeded: crc >> 24))
        out.append(UInt8(truncatingIfNeeded: crc >> 16))
        out.append(UInt8(truncatingIfNeeded: crc >> 8))
        out.append(UInt8(truncatingIfNeeded: crc))
        out.append(contentsOf: bytes)
        return out
    }

    /// [9] + msgpack {Algo: 0, Buf: lzw(bytes)}
    public static func compress(_ bytes: [UInt8]) -> [UInt8] {
        let buf = LZW.compress(bytes)
        var w = writer(.compress, capacity: 16 + buf.count)
        w.writeMapHeader(2)
        w.write("Algo")
        w.write(UInt8(0))
        w.write("Buf")
        w.writeBytes(buf)
        return w.bytes
    }

    // MARK: - Packets

    /// Decodes a UDP packet (already decrypted): verifies and strips CRC (type 12), unwraps compress (9) and compound
    /// (7), recursively (nesting legal, depth capped at `maxNesting`), and decodes each message. A malformed part of a
    /// compound does not lose the other parts: its error is collected. Types 6, 10, 13 and unknown types in a packet
    /// are errors ("message type N not allowed in a packet" / "unknown message type N").
    ///
    /// As in memberlist, a CRC wrapper is honoured only as the first layer of the packet; a nested type 12 is an error.
    public static func decodePacket(_ bytes: [UInt8]) -> (messages: [MemberlistMessage], errors: [WireError]) {
        var d = PacketDecoder()
        guard !bytes.isEmpty else {
            d.errors.append(WireError("empty packet"))
            return (d.messages, d.errors)
        }
        var start = 0
        if bytes.count >= 5 && bytes[0] == MessageType.hasCRC.rawValue {
            let expected = UInt32(bytes[1]) << 24 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 8 | UInt32(bytes[4])
            let actual = CRC32.checksum(bytes[5...])
            guard expected == actual else {
                let text = "invalid checksum: packet says \(hex32(expected)), computed \(hex32(actual))"
                d.errors.append(WireError(text))
                return (d.messages, d.errors)
            }
            start = 5
        }
        d.decode(bytes, start..<bytes.count, depth: 0)
        return (d.messages, d.errors)
    }

    private struct PacketDecoder {
        var messages: [MemberlistMessage] = []
        var errors: [WireError] = []
        var budget = MemberlistCodec.packetDecompressLimit

        mutating func decode(_ bytes: [UInt8], _ range: Range<Int>, depth: Int) {
            guard let typeByte = range.isEmpty ? nil : bytes[range.lowerBound] else {
                errors.append(WireError("empty message in packet"))
                return
            }
            let body = range.lowerBound + 1..<range.upperBound
            guard let type = MessageType(rawValue: typeByte) else {
                errors.append(WireError("unknown message type \(typeByte)"))
                return
            }
            switch type {
            case .compound:
                guard depth < MemberlistCodec.maxNesting else { return tooDeep() }
                decodeCompound(bytes, body, depth: depth)
            case .compress:
                guard depth < MemberlistCodec.maxNesting else { return tooDeep() }
                do {
                    var r = MemberlistCodec.reader(bytes, body)
                    let plain = try MemberlistCodec.decompress(&r, limit: budget)
                    budget -= plain.count
                    decode(plain, 0..<plain.count, depth: depth + 1)
                } catch let e as WireError {
                    errors.append(e)
                } catch {
                    errors.append(WireError("compress: \(error)"))
                }
            case .user:
                messages.append(.user(Array(bytes[body])))
            case .ping, .indirectPing, .ack, .nack, .suspect, .alive, .dead:
                do {
                    var r = MemberlistCodec.reader(bytes, body)
                    messages.append(try MemberlistCodec.decodeBody(type, &r))
                } catch let e as WireError {
                    errors.append(e)
                } catch {
                    errors.append(WireError("\(type): \(error)"))
                }
            case .hasCRC:
                errors.append(
                    WireError(
                        depth == 0 && range.lowerBound == 0
                            ? "checksum wrapper shorter than 5 bytes"
                            : "message type 12 (checksum) is only allowed at the start of a packet"))
            case .pushPull, .encrypt, .err:
                errors.append(WireError("message type \(typeByte) not allowed in a packet"))
            }
        }

        /// `[n u8][len u16 BE] x n [parts]`. Parts that fit are kept when later ones are truncated, as memberlist does.
        mutating func decodeCompound(_ bytes: [UInt8], _ body: Range<Int>, depth: Int) {
            guard let n = body.isEmpty ? nil : Int(bytes[body.lowerBound]) else {
                errors.append(WireError("compound: missing part count"))
                return
            }
            let lengths = body.lowerBound + 1
            guard body.upperBound - lengths >= 2 * n else {
                errors.append(WireError("compound: length table for \(n) parts is truncated"))
                return
            }
            var offset = lengths + 2 * n
            for k in 0..<n {
                let length = Int(bytes[lengths + 2 * k]) << 8 | Int(bytes[lengths + 2 * k + 1])
                guard length <= body.upperBound - offset else {
                    errors.append(WireError("compound: \(n - k) of \(n) parts truncated"))
                    return
                }
                decode(bytes, offset..<offset + length, depth: depth + 1)
                offset += length
            }
        }

        mutating func tooDeep() {
            errors.append(WireError("packet nests containers deeper than \(MemberlistCodec.maxNesting)"))
        }
    }

    // MARK: - Streams

    /// Decodes a TCP stream's single message (already decrypted; the stream was read to EOF or to the declared size):
    /// type 9 is decompressed first; allowed: pushPull (6), user (8), ping (0), ack (2), err (13).
    public static func decodeStream(_ bytes: [UInt8]) throws -> MemberlistMessage {
        guard let first = bytes.first else { throw WireError("empty stream") }
        guard first == MessageType.compress.rawValue else { return try decodeStreamMessage(bytes) }
        var r = MessagePackReader(bytes, offset: 1)
        let plain = try decompress(&r, limit: streamDecompressLimit)
        // memberlist unwraps one compress layer on a stream; a second one is "invalid msgType".
        if plain.first == MessageType.compress.rawValue {
            throw WireError("message type 9 not allowed inside a compressed stream")
        }
        return try decodeStreamMessage(plain)
    }

    private static func decodeStreamMessage(_ bytes: [UInt8]) throws -> MemberlistMessage {
        guard let typeByte = bytes.first else { throw WireError("empty stream message") }
        guard let type = MessageType(rawValue: typeByte) else { throw WireError("unknown message type \(typeByte)") }
        var r = MessagePackReader(bytes, offset: 1)
        switch type {
        case .pushPull:
            return .pushPull(try decodePushPull(&r))
        case .user:
            let header = try MessagePackFields(r.read(), context: "userMsgHeader")
            let length = try header.int("UserMsgLen")
            guard length >= 0, length <= r.remaining else {
                throw WireError("user message: UserMsgLen \(length) but \(r.remaining) bytes follow")
            }
            return .user(Array(r.rest.prefix(Int(length))))
        case .ping, .ack, .err:
            return try decodeBody(type, &r)
        case .encrypt:
            throw WireError("message type 10 (encrypted) must be decrypted before decoding")
        default:
            throw WireError("message type \(typeByte) not allowed in a stream")
        }
    }

    /// For TCP framing: given the bytes received so far on a stream, returns true if a complete message is present
    /// (for push-pull: header + Nodes node states + UserStateLen bytes; for compress: the full msgpack compress map;
    /// for encrypt (10): 5-byte header + len bytes). Lets the runtime know when to stop reading without waiting for
    /// EOF. Malformed input also returns true, so the caller goes on to decode it and gets the error at once.
    public static func isCompleteStreamMessage(_ bytes: [UInt8]) -> Bool {
        var framer = StreamFramer()
        return framer.scan(bytes) != .needMore
    }

    // MARK: - Bodies

    private static func writer(_ type: MessageType, capacity: Int = 64) -> MessagePackWriter {
        var w = MessagePackWriter(.gossip, capacity: capacity)
        w.appendRaw(CollectionOfOne(type.rawValue))
        return w
    }

    /// A reader over `range` of `bytes`. It only needs its own copy when the range stops short of the end: a
    /// message body must not run on into the next compound part.
    fileprivate static func reader(_ bytes: [UInt8], _ range: Range<Int>) -> MessagePackReader {
        range.upperBound == bytes.count
            ? MessagePackReader(bytes, offset: range.lowerBound) : MessagePackReader(Array(bytes[range]))
    }

    /// Reads a compress body `{Algo, Buf}` and returns the decompressed bytes.
    fileprivate static func decompress(_ r: inout MessagePackReader, limit: Int) throws -> [UInt8] {
        let f = try MessagePackFields(r.read(), context: "compress")
        let algo = try f.uint("Algo")
        guard algo == 0 else { throw WireError("compress: unknown algorithm \(algo)") }
        let plain = try LZW.decompress(try f.bytes("Buf"), limit: limit)
        guard !plain.isEmpty else { throw WireError("compress: empty payload") }
        return plain
    }

    fileprivate static func decodeBody(_ type: MessageType, _ r: inout MessagePackReader) throws -> MemberlistMessage {
        let v = try r.read()
        switch type {
        case .ping:
            let f = try MessagePackFields(v, context: "ping")
            return .ping(
                Ping(
                    node: try f.string("Node"), seqNo: try f.uint32("SeqNo"), sourceAddr: try f.bytes("SourceAddr"),
                    sourceNode: try f.string("SourceNode"), sourcePort: try f.uint16("SourcePort")))
        case .indirectPing:
            let f = try MessagePackFields(v, context: "indirectPing")
            return .indirectPing(
                IndirectPing(
                    nack: try f.bool("Nack"), node: try f.string("Node"), port: try f.uint16("Port"),
                    seqNo: try f.uint32("SeqNo"), sourceAddr: try f.bytes("SourceAddr"),
                    sourceNode: try f.string("SourceNode"), sourcePort: try f.uint16("SourcePort"),
                    target: try f.bytes("Target")))
        case .ack:
            let f = try MessagePackFields(v, context: "ack")
            return .ack(Ack(seqNo: try f.uint32("SeqNo"), payload: try f.bytes("Payload")))
        case .nack:
            let f = try MessagePackFields(v, context: "nack")
            return .nack(Nack(seqNo: try f.uint32("SeqNo")))
        case .suspect:
            let f = try MessagePackFields(v, context: "suspect")
            return .suspect(
                Suspect(
                    incarnation: try f.uint32("Incarnation"), node: try f.string("Node"), from: try f.string("From")))
        case .alive:
            // A Vsn shorter than 6 bytes decodes fine; the core decides what to do with it.
            let f = try MessagePackFields(v, context: "alive")
            return .alive(
                Alive(
                    incarnation: try f.uint32("Incarnation"), node: try f.string("Node"), addr: try f.bytes("Addr"),
                    port: try f.uint16("Port"), meta: try f.bytes("Meta"), vsn: try f.bytes("Vsn")))
        case .dead:
            let f = try MessagePackFields(v, context: "dead")
            return .dead(
                Dead(incarnation: try f.uint32("Incarnation"), node: try f.string("Node"), from: try f.string("From")))
        case .err:
            let f = try MessagePackFields(v, context: "err")
            return .err(try f.string("Error"))
        default:
            throw WireError("message type \(type.rawValue) has no msgpack body")
        }
    }

    private static func decodePushPull(_ r: inout MessagePackReader) throws -> PushPull {
        let header = try MessagePackFields(r.read(), context: "pushPullHeader")
        let join = try header.bool("Join")
        let count = try header.int("Nodes")
        let userStateLength = try header.int("UserStateLen")
        // Each node state takes at least one byte: refuse counts the data cannot hold before reserving space.
        guard count >= 0, count <= r.remaining else {
            throw WireError("pushPull: Nodes \(count) but only \(r.remaining) bytes follow")
        }
        var nodes: [PushNodeState] = []
        nodes.reserveCapacity(Int(count))
        for _ in 0..<count {
            let f = try MessagePackFields(r.read(), context: "pushNodeState")
            // memberlist's merge ignores states it does not know (a newer peer's); drop the entry the same way
            // rather than losing the whole exchange.
            guard let state = PushNodeState.State(rawValue: try f.int("State")) else { continue }
            nodes.append(
                PushNodeState(
                    name: try f.string("Name"), addr: try f.bytes("Addr"), port: try f.uint16("Port"),
                    meta: try f.bytes("Meta"), incarnation: try f.uint32("Incarnation"), state: state,
                    vsn: try f.bytes("Vsn")))
        }
        guard userStateLength >= 0, userStateLength <= r.remaining else {
            throw WireError("pushPull: UserStateLen \(userStateLength) but only \(r.remaining) bytes follow")
        }
        return PushPull(join: join, nodes: nodes, userState: Array(r.rest.prefix(Int(userStateLength))))
    }

    private static func writePing(_ p: Ping, into w: inout MessagePackWriter) {
        // SourceAddr, SourceNode and SourcePort are `omitempty` in Go.
        let extra = (p.sourceAddr.isEmpty ? 0 : 1) + (p.sourceNode.isEmpty ? 0 : 1) + (p.sourcePort == 0 ? 0 : 1)
        w.writeMapHeader(2 + extra)
        w.write("Node")
        w.write(p.node)
        w.write("SeqNo")
        w.write(p.seqNo)
        writeSource(addr: p.sourceAddr, node: p.sourceNode, port: p.sourcePort, into: &w)
    }

    private static func writeIndirectPing(_ p: IndirectPing, into w: inout MessagePackWriter) {
        let extra = (p.sourceAddr.isEmpty ? 0 : 1) + (p.sourceNode.isEmpty ? 0 : 1) + (p.sourcePort == 0 ? 0 : 1)
        w.writeMapHeader(5 + extra)
        w.write("Nack")
        w.write(p.nack)
        w.write("Node")
        w.write(p.node)
        w.write("Port")
        w.write(p.port)
        w.write("SeqNo")
        w.write(p.seqNo)
        writeSource(addr: p.sourceAddr, node: p.sourceNode, port: p.sourcePort, into: &w)
        w.write("Target")
        w.writeBytes(p.target)
    }

    private static func writeSource(addr: [UInt8], node: String, port: UInt16, into w: inout MessagePackWriter) {
        if !addr.isEmpty {
            w.write("SourceAddr")
            w.writeBytes(addr)
        }
        if !node.isEmpty {
            w.write("SourceNode")
            w.write(node)
        }
        if port != 0 {
            w.write("SourcePort")
            w.write(port)
        }
    }

    /// suspect and dead share their body: `{From, Incarnation, Node}`.
    private static func writeAccusation(
        from: String, incarnation: UInt32, node: String, into w: inout MessagePackWriter
    ) {
        w.writeMapHeader(3)
        w.write("From")
        w.write(from)
        w.write("Incarnation")
        w.write(incarnation)
        w.write("Node")
        w.write(node)
    }

    private static func writeAlive(_ a: Alive, into w: inout MessagePackWriter) {
        w.writeMapHeader(6)
        w.write("Addr")
        w.writeBytes(a.addr)
        w.write("Incarnation")
        w.write(a.incarnation)
        w.write("Meta")
        w.writeBytes(a.meta)
        w.write("Node")
        w.write(a.node)
        w.write("Port")
        w.write(a.port)
        w.write("Vsn")
        w.writeBytes(a.vsn)
    }

    private static func writePushPull(_ pp: PushPull, into w: inout MessagePackWriter) {
        w.writeMapHeader(3)
        w.write("Join")
        w.write(pp.join)
        w.write("Nodes")
        w.write(pp.nodes.count)
        w.write("UserStateLen")
        w.write(pp.userState.count)
        for n in pp.nodes {
            w.writeMapHeader(7)
            w.write("Addr")
            w.writeBytes(n.addr)
            w.write("Incarnation")
            w.write(n.incarnation)
            w.write("Meta")
            w.writeBytes(n.meta)
            w.write("Name")
            w.write(n.name)
            w.write("Port")
            w.write(n.port)
            w.write("State")
            w.write(n.state.rawValue)
            w.write("Vsn")
            w.writeBytes(n.vsn)
        }
        w.appendRaw(pp.userState)
    }

    private static func hex32(_ v: UInt32) -> String {
        let digits = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
    }
}
