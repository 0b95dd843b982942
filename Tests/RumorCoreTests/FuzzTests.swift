@testable import RumorCore
import RumorTestSupport
import RumorWire
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Seeded random mutation of the captured wire vectors (docs/interop.md#vectors) through every decoder and the core:
/// packets, streams, Serf messages, the stream framer and `Instance.handle`. A trap anywhere ends the test process;
/// the framer and the msgpack scanner are also checked against the decoders they stand in for.
///
/// Runs `RUMOR_FUZZ_SECONDS` (default 5; CI and scripts/fuzz run longer) from seed `RUMOR_FUZZ_SEED` (default
/// fixed), and prints executions per second. A failure names the seed and iteration to replay.
@Suite struct FuzzTests {
    static var seconds: Double { environment("RUMOR_FUZZ_SECONDS").flatMap(Double.init) ?? 5 }
    static var seed: UInt64 { environment("RUMOR_FUZZ_SEED").flatMap { UInt64($0) } ?? 0x5EED_F022 }

    static func environment(_ name: String) -> String? {
        #if canImport(Glibc)
        guard let value = getenv(name) else { return nil }
        return String(cString: value)
        #else
        return nil
        #endif
    }

    @Test func mutatedVectorsNeverTrapAnyDecoderOrTheCore() {
        var rng = SeededGenerator(seed: Self.seed)
        let packets = Vectors.packets
        let streams = Vectors.streams + [MergeSliceTests.pushPull(nodes: 3)]
        let corpus = packets + streams
        var node = TestNode(peers: 3)
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(Int64(Self.seconds * 1000))
        var iterations = 0
        while clock.now < deadline {
            for _ in 0..<64 {
                iterations += 1
                let isStream = Int.random(in: 0..<4, using: &rng) == 0
                let base = isStream ? streams.randomElement(using: &rng)! : packets.randomElement(using: &rng)!
                let input = Mutator.mutate(base, corpus: corpus, rng: &rng)
                let context = "seed \(Self.seed) iteration \(iterations)"
                Self.checkDecoders(input, context)
                if isStream {
                    node.handle(.stream(StreamID(UInt64(iterations)), payload: input, from: TestNode.peer(1)), after: .milliseconds(1))
                } else {
                    node.handle(.packet(input, from: TestNode.peer(Int.random(in: 1...3, using: &rng))), after: .milliseconds(1))
                }
                if iterations % 97 == 0 {
                    for timer: Timer in [.probe, .gossip, .reap, .mergeSlice] { node.handle(.timer(timer), after: .milliseconds(50)) }
                }
                // A fresh node now and then: state that only grows would slow the run down.
                if iterations % 5000 == 0 { node = TestNode(peers: 3) }
            }
        }
        let rate = Double(iterations) / Self.seconds
        print("fuzz: \(iterations) executions in \(Self.seconds) s, \(Int(rate)) per second (seed \(Self.seed))")
        #expect(iterations > 1000)
    }

    /// Every decoder on `bytes`, and the framing shortcuts against the decoders.
    static func checkDecoders(_ bytes: [UInt8], _ context: String) {
        _ = MemberlistCodec.decodePacket(bytes)
        _ = DecodedStream.decode(bytes)
        _ = try? SerfCodec.decode(bytes)
        if bytes.count > 1 { _ = try? SerfCodec.decode(Array(bytes.dropFirst())) }
        _ = try? PingPayload.decode(bytes)

        // The scanner finds the end of a value exactly where the reader stops, and only when the reader can read it.
        var reader = MessagePackReader(bytes)
        var scanner = MessagePackScanner(offset: 0)
        let read = (try? reader.read()) != nil
        let scanned = (try? scanner.scan(bytes)) ?? false
        if read {
            #expect(scanned && scanner.offset == reader.offset, "scanner disagrees with the reader: \(context)")
        }

        // A complete stream fed in two pieces frames the same as in one.
        var whole = StreamFramer()
        let status = whole.scan(bytes)
        if bytes.count > 2 {
            var split = StreamFramer()
            let cut = bytes.count / 2
            _ = split.scan(Array(bytes.prefix(cut)))
            #expect(split.scan(bytes) == status, "framer depends on how the bytes arrive: \(context)")
        }
    }
}

/// libFuzzer-style byte mutations, plus msgpack-aware ones that put extreme numbers in real fields.
enum Mutator {
    static func mutate(_ input: [UInt8], corpus: [[UInt8]], rng: inout SeededGenerator) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            switch Int.random(in: 0..<9, using: &rng) {
            case 0 where !bytes.isEmpty:  // flip a bit
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= 1 << UInt8.random(in: 0...7, using: &rng)
            case 1 where !bytes.isEmpty:  // an interesting byte
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] = [0x00, 0x01, 0x7f, 0x80, 0xc1, 0xdc, 0xdf, 0xff].randomElement(using: &rng)!
            case 2:  // insert random bytes
                let at = Int.random(in: 0...bytes.count, using: &rng)
                bytes.insert(contentsOf: rng.bytes(Int.random(in: 1...8, using: &rng)), at: at)
            case 3 where bytes.count > 1:  // delete a range
                let a = Int.random(in: 0..<bytes.count, using: &rng)
                bytes.removeSubrange(a..<min(bytes.count, a + Int.random(in: 1...16, using: &rng)))
            case 4 where !bytes.isEmpty:  // duplicate a range
                let a = Int.random(in: 0..<bytes.count, using: &rng)
                let b = min(bytes.count, a + Int.random(in: 1...32, using: &rng))
                bytes.insert(contentsOf: bytes[a..<b], at: Int.random(in: 0...bytes.count, using: &rng))
            case 5:  // splice with another corpus entry
                let other = corpus.randomElement(using: &rng)!
                let cut = Int.random(in: 0...bytes.count, using: &rng)
                bytes = Array(bytes.prefix(cut)) + other.suffix(Int.random(in: 0...other.count, using: &rng))
            case 6 where !bytes.isEmpty:  // truncate
                bytes.removeLast(Int.random(in: 1...bytes.count, using: &rng))
            default:  // an extreme number in a real msgpack field
                let tree = MessageTree.parse(bytes)
                let paths = tree.numberPaths
                guard let path = paths.randomElement(using: &rng) else { continue }
                bytes = tree.replacing(path, with: ExtremeValueTests.extremes.randomElement(using: &rng)!).encoded
            }
        }
        return bytes
    }
}
