/// Deterministic junk aimed at each layer of an agent's decoders: framing, CRC, compression, compound, msgpack,
/// Serf payloads, the TCP stream reader and the RPC reader.
///
/// Deliberately hand-built rather than produced with RumorWire, so a codec bug cannot hide in both sides.
enum HostileCorpus {
    /// T1 from the wire doc: a real serf ping (to "a", from b at 127.0.0.1:7947).
    static let t1 = hex(
        "0085a44e6f6465a161a55365714e6f01aa536f7572636541646472a47f000001aa536f757263654e6f6465a162aa536f7572",
        "6365506f7274cd1f0b")

    /// A valid ping to `node`. No SourceAddr/SourcePort, so the ack goes to the UDP source, and no bit flip can
    /// redirect replies to some other (possibly non-loopback) address.
    static func ping(to node: String, seq: UInt8, from source: String = "fuzz") -> [UInt8] {
        [0x00, 0x83] + str("Node") + str(node) + str("SeqNo") + [seq & 0x7f] + str("SourceNode") + str(source)
    }

    /// A few thousand datagrams: random, bit-flipped and truncated pings, every type byte with junk, wrappers
    /// (CRC with a correct checksum, compress, compound) around junk, deep msgpack nesting and 60 KB monsters.
    static func datagrams(target node: String, spareIP: [UInt8], seed: UInt64) -> [[UInt8]] {
        var rng = SeededGenerator(seed: seed)
        let base = ping(to: node, seq: 42)
        var out: [[UInt8]] = [[], t1, [0x00], [0x0c], [0x07], [0x09]]
        for _ in 0..<1200 { out.append(rng.bytes(Int.random(in: 1...1400, using: &rng))) }
        for _ in 0..<1000 {
            var p = base  // never T1: a flipped SourceAddr could send acks off the loopback network
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                p[Int.random(in: 0..<p.count, using: &rng)] ^= 1 << UInt8.random(in: 0...7, using: &rng)
            }
            out.append(p)
        }
        for cut in 1..<base.count { out.append(Array(base.prefix(cut))) }
        for cut in 1..<t1.count { out.append(Array(t1.prefix(cut))) }
        for type in Array(UInt8(0)...13) + [244, 255] {
            for _ in 0..<40 { out.append([type] + rng.bytes(Int.random(in: 0...200, using: &rng))) }
        }
        for serfType in UInt8(0)...15 {  // Serf payloads inside a memberlist user message
            for _ in 0..<10 { out.append([0x08, serfType] + rng.bytes(Int.random(in: 0...120, using: &rng))) }
        }
        for _ in 0..<150 {  // a correct CRC, so the junk reaches the decoders behind the CRC check
            let inner = [UInt8.random(in: 0...13, using: &rng)] + rng.bytes(Int.random(in: 0...300, using: &rng))
            out.append(crcWrapped(inner))
        }
        for _ in 0..<100 {  // compound headers whose counts and lengths lie
            let n = UInt8.random(in: 0...255, using: &rng)
            out.append([0x07, n] + rng.bytes(Int.random(in: 0...600, using: &rng)))
        }
        out.append([0x07, 0x02, 0x00, UInt8(base.count), 0xff, 0xff] + base)
        for _ in 0..<60 {  // well-framed compress messages with junk LZW, plus an unknown algorithm
            let algo = UInt8.random(in: 0...1, using: &rng) == 0 ? 0 : UInt8.random(in: 1...127, using: &rng)
            out.append(compressed(algo: algo, rng.bytes(Int.random(in: 1...1200, using: &rng))))
        }
        out.append([0x00] + Array(repeating: 0x91, count: 60_000))  // 60k nested one-element arrays
        out.append([0x04] + Array(repeating: [0x81, 0xa1, 0x61], count: 20_000).flatMap { $0 })
        out.append([0x00, 0xdf, 0xff, 0xff, 0xff, 0xff])  // a map claiming 4 billion entries
        out.append([0x00, 0x81, 0xa4] + Array("Node".utf8) + [0xdb, 0xff, 0xff, 0xff, 0xf0])  // str32 length lie
        for _ in 0..<20 { out.append(rng.bytes(60_000)) }
        for _ in 0..<5 { out.append(crcWrapped([0x07, 0xff] + rng.bytes(59_000))) }
        for _ in 0..<5 { out.append(compressed(algo: 0, rng.bytes(59_000))) }
        // Alive messages with broken version vectors or addresses: memberlist itself panics on a short Vsn, so an
        // agent that relays one would crash its serf peers. The IP is a spare one, should any be accepted.
        out.append(alive(node: "ghost-a", vsn: [1, 5], addr: spareIP))
        out.append(alive(node: "ghost-b", vsn: [], addr: spareIP))
        out.append(alive(node: "ghost-c", vsn: [0, 0, 0, 0, 0, 0], addr: spareIP))
        out.append(alive(node: "ghost-d", vsn: [1, 5, 2, 2, 5, 5], addr: Array(spareIP.prefix(2))))
        for _ in 0..<300 {  // well-formed pings for 300 different nodes: each one is "unexpected"
            let name = String(decoding: rng.bytes(8).map { 0x61 + $0 % 26 }, as: UTF8.self)
            out.append(ping(to: name, seq: 7))
        }
        for i in 0..<20 { out.append(ping(to: node, seq: UInt8(i))) }  // valid ones mixed in
        return out
    }

    /// Payloads for separate connections to the gossip TCP port.
    static func streams(target node: String, seed: UInt64) -> [[UInt8]] {
        var rng = SeededGenerator(seed: seed)
        var out: [[UInt8]] = [[], t1, [0x06], [0x0a, 0xff, 0xff, 0xff, 0xff] + rng.bytes(100)]
        for _ in 0..<5 { out.append(rng.bytes(4096)) }
        for type in [UInt8(0x06), 0x08, 0x09, 0x0c, 0x0d, 0x02] { out.append([type] + rng.bytes(700)) }
        out.append([0x06, 0x83] + str("Join") + [0xc3] + str("Nodes") + [0xce, 0xff, 0xff, 0xff, 0xff])
        out.append([0x09, 0x82] + str("Algo") + [0x00] + str("Buf") + [0xdb, 0xff, 0xff, 0xff, 0xff] + rng.bytes(64))
        out.append(compressed(algo: 0, rng.bytes(5000)))
        out.append([0x06] + Array(repeating: 0x91, count: 100_000))
        out.append(ping(to: node, seq: 9))
        return out
    }

    /// Payloads for separate connections to the RPC port. Never a real `leave`, `join` or `force-leave`.
    static func rpcRequests(seed: UInt64) -> [[UInt8]] {
        var rng = SeededGenerator(seed: seed)
        let hello = request("handshake", seq: 1) + [0x81] + str("Version") + [0x01]
        var out: [[UInt8]] = [[], rng.bytes(512), rng.bytes(4096)]
        out.append(request("handshake", seq: 1) + [0x81] + str("Version") + [0x02])
        out.append(request("members", seq: 1))  // before any handshake
        out.append(hello + hello)
        out.append(hello + request("no-such-command", seq: 2))
        out.append(hello + request("members-filtered", seq: 2) + [0x83] + str("Name") + str("(") + str("Status")
            + str("") + str("Tags") + [0x80])  // invalid regexp
        out.append(hello + request("join", seq: 2) + [0x82] + str("Existing") + [0x05] + str("Replay") + [0xc2])
        out.append(hello + request("stop", seq: 2) + [0x81] + str("Stop") + str("x"))
        out.append(hello + request("monitor", seq: 2) + [0x81] + str("LogLevel") + str("debug"))  // then hang up
        out.append(hello + request("stream", seq: 2) + [0x81] + str("Type") + str("*"))  // then hang up
        out.append(hello + request("event", seq: 2) + [0x83] + str("Coalesce") + [0xc3] + str("Name") + str("x")
            + str("Payload") + [0xc6, 0xff, 0xff, 0xff, 0xff])
        out.append(hello + [0xdb, 0xff, 0xff, 0xff, 0xff])
        out.append([0xdf, 0xff, 0xff, 0xff, 0xff])
        out.append(Array(repeating: 0x91, count: 100_000))
        out.append(hello + rng.bytes(2048))
        return out
    }

    // MARK: - Building blocks (gossip handle: fixstr/str16/str32 for strings, bytes; docs/protocol.md#msgpack-gossip)

    static func str(_ s: String) -> [UInt8] { raw(Array(s.utf8)) }

    static func raw(_ bytes: [UInt8]) -> [UInt8] {
        switch bytes.count {
        case ..<32: [0xa0 | UInt8(bytes.count)] + bytes
        case ..<65_536: [0xda, UInt8(bytes.count >> 8), UInt8(bytes.count & 0xff)] + bytes
        default: [0xdb] + be32(UInt32(bytes.count)) + bytes
        }
    }

    static func request(_ command: String, seq: UInt8) -> [UInt8] {
        [0x82] + str("Command") + str(command) + str("Seq") + [seq]
    }

    static func crcWrapped(_ inner: [UInt8]) -> [UInt8] { [0x0c] + be32(crc32(inner)) + inner }

    static func compressed(algo: UInt8, _ buf: [UInt8]) -> [UInt8] {
        [0x09, 0x82] + str("Algo") + [algo] + str("Buf") + raw(buf)
    }

    static func alive(node: String, vsn: [UInt8], addr: [UInt8]) -> [UInt8] {
        [0x04, 0x86] + str("Addr") + raw(addr) + str("Incarnation") + [0x01] + str("Meta") + raw([0xff, 0x80])
            + str("Node") + str(node) + str("Port") + [0xcd, 0x1f, 0x0a] + str("Vsn") + raw(vsn)
    }

    static func be32(_ v: UInt32) -> [UInt8] { [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: v >> $0) } }
}

/// CRC-32 (IEEE), as memberlist's CRC wrapper uses.
func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xffff_ffff
    for b in bytes {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xedb8_8320 : crc >> 1 }
    }
    return ~crc
}

/// Bytes from hex text; the parts are concatenated.
func hex(_ parts: String...) -> [UInt8] {
    let digits = Array(parts.joined().utf8)
    precondition(digits.count % 2 == 0, "odd number of hex digits")
    return stride(from: 0, to: digits.count, by: 2).map {
        UInt8(String(decoding: digits[$0...$0 + 1], as: UTF8.self), radix: 16)!
    }
}

/// SplitMix64, so a failing blast can be replayed exactly.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) } }
}
