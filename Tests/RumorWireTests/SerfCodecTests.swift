import Testing

@testable import RumorWire
import RumorTestSupport

@Suite struct SerfCodecTests {
    static let localhost: [UInt8] = [127, 0, 0, 1]

    /// The Serf payload of a packet holding exactly one user message.
    static func serfPayload(_ packet: [UInt8]) throws -> [UInt8] {
        let (messages, errors) = MemberlistCodec.decodePacket(packet)
        #expect(errors.isEmpty, "\(errors)")
        guard messages.count == 1, case .user(let payload) = messages[0] else {
            throw WireError("expected one user message, got \(messages)")
        }
        return payload
    }

    /// Encodes `message` as a memberlist user message, optionally CRC-wrapped like gossip.
    static func packet(_ message: SerfMessage, crc: Bool) -> [UInt8] {
        let user = MemberlistCodec.encode(.user(SerfCodec.encode(message)))
        return crc ? MemberlistCodec.withCRC(user) : user
    }

    // MARK: Captured vectors

    @Test func t5UserEventReencodes() throws {
        let event = UserEventMessage(ltime: 1, name: "deploy", payload: Array("v1.2.3".utf8), cc: true)
        #expect(try SerfCodec.decode(Self.serfPayload(Vectors.t5)) == .userEvent(event))
        #expect(hexString(Self.packet(.userEvent(event), crc: true)) == hexString(Vectors.t5))
    }

    @Test func userEventWithNilPayloadReencodes() throws {
        let event = UserEventMessage(ltime: 2, name: "restart", payload: nil, cc: false)
        #expect(try SerfCodec.decode(Self.serfPayload(Vectors.userEventNilPayload)) == .userEvent(event))
        #expect(hexString(Self.packet(.userEvent(event), crc: true)) == hexString(Vectors.userEventNilPayload))
    }

    @Test func t6QueryAndBothResponsesReencode() throws {
        let query = QueryMessage(
            ltime: 1, id: 368_248_997, addr: Self.localhost, port: 7946, sourceNode: "a", filters: nil,
            flags: QueryMessage.flagAck, relayFactor: 0, timeout: 3_200_000_000, name: "ping-q",
            payload: Array("hello".utf8))
        #expect(try SerfCodec.decode(Self.serfPayload(Vectors.t6Query)) == .query(query))
        #expect(hexString(Self.packet(.query(query), crc: true)) == hexString(Vectors.t6Query))

        let ack = QueryResponseMessage(ltime: 1, id: 368_248_997, from: "b", flags: 1, payload: nil)
        #expect(try SerfCodec.decode(Self.serfPayload(Vectors.t6Ack)) == .queryResponse(ack))
        #expect(hexString(Self.packet(.queryResponse(ack), crc: false)) == hexString(Vectors.t6Ack))

        let response = QueryResponseMessage(
            ltime: 1, id: 368_248_997, from: "b", flags: 0, payload: Array("pong-from-b\n".utf8))
        #expect(try SerfCodec.decode(Self.serfPayload(Vectors.t6Response)) == .queryResponse(response))
        #expect(hexString(Self.packet(.queryResponse(response), crc: false)) == hexString(Vectors.t6Response))
    }

    @Test func queryWithoutPayloadReencodes() throws {
        let payload = try Self.serfPayload(Vectors.queryNoPayload)
        guard case .query(let q) = try SerfCodec.decode(payload) else {
            Issue.record("expected a query")
            return
        }
        #expect(q.payload == nil)
        #expect(q.flags == 0)
        #expect(SerfCodec.encode(.query(q)) == payload)
    }

    @Test func t7LeaveIntentReencodes() throws {
        let leave = LeaveIntent(ltime: 2, node: "b", prune: false)
        #expect(try SerfCodec.decode(Self.serfPayload(Vectors.t7Leave)) == .leave(leave))
        #expect(hexString(Self.packet(.leave(leave), crc: true)) == hexString(Vectors.t7Leave))
    }

    @Test func t12KeyQueryAndResponse() throws {
        let request = try Self.serfPayload(Vectors.keyQuery)
        guard case .query(let q) = try SerfCodec.decode(request) else {
            Issue.record("expected a query")
            return
        }
        #expect(q.name == "_serf_list-keys")
        #expect(q.payload == hex("0781a34b6579a0"))
        #expect(try SerfCodec.decodeKeyRequest(hex("0781a34b6579a0")) == KeyRequest(key: []))
        #expect(SerfCodec.encodeKeyRequest(KeyRequest(key: [])) == hex("0781a34b6579a0"))
        #expect(SerfCodec.encode(.query(q)) == request)

        let key = "WAJLakmK/icV5C2pEtpBnLTI5QNnkxb8nB+So1bSIjI="
        let response = KeyResponse(result: true, message: "", keys: [key], primaryKey: key)
        #expect(try SerfCodec.decodeKeyResponse(Vectors.t12) == response)
        #expect(hexString(SerfCodec.encodeKeyResponse(response)) == hexString(Vectors.t12))
    }

    @Test func installKeyQueryCarriesRawKey() throws {
        let payload = try Self.serfPayload(Vectors.installKeyQuery)
        guard case .query(let q) = try SerfCodec.decode(payload) else {
            Issue.record("expected a query")
            return
        }
        #expect(q.name == "_serf_install-key")
        let request = try SerfCodec.decodeKeyRequest(try #require(q.payload))
        #expect(request.key.count == 32)
        #expect(SerfCodec.encodeKeyRequest(request) == q.payload)
        #expect(SerfCodec.encode(.query(q)) == payload)
    }

    @Test(arguments: [Vectors.keyResponseNilKeys, Vectors.keyResponseTwoKeys])
    func capturedKeyResponsesReencode(packet: [UInt8]) throws {
        let payload = try Self.serfPayload(packet)
        guard case .queryResponse(let r) = try SerfCodec.decode(payload) else {
            Issue.record("expected a query response")
            return
        }
        let inner = try #require(r.payload)
        let keys = try SerfCodec.decodeKeyResponse(inner)
        #expect(keys.result)
        #expect(SerfCodec.encodeKeyResponse(keys) == inner)
        #expect(SerfCodec.encode(.queryResponse(r)) == payload)
        if packet == Vectors.keyResponseNilKeys {
            #expect(keys.keys == nil)
        } else {
            #expect(keys.keys?.count == 2)
        }
    }

    @Test func joinIntentFromT4() throws {
        let (messages, _) = MemberlistCodec.decodePacket(Vectors.t4)
        guard case .user(let payload) = try #require(messages.last) else {
            Issue.record("expected a user message last")
            return
        }
        #expect(try SerfCodec.decode(payload) == .join(JoinIntent(ltime: 1, node: "b")))
        #expect(payload == hex("0182a54c54696d6501a44e6f6465a162"))
    }

    // MARK: Round trips and encoding rules

    @Test func pushPullWithEventsRoundTrips() throws {
        var events = [UserEventCollection?](repeating: nil, count: 512)
        events[3] = UserEventCollection(
            ltime: 3, events: [.init(name: "deploy", payload: [1, 2]), .init(name: "nil", payload: nil)])
        events[511] = UserEventCollection(ltime: 511, events: [])
        let pp = SerfPushPull(
            ltime: 9, statusLTimes: ["zed": 4, "a": 1, "m": 1 << 40], leftMembers: ["gone"], eventLTime: 512,
            events: events, queryLTime: 7)
        let bytes = SerfCodec.encode(.pushPull(pp))
        #expect(try SerfCodec.decode(bytes) == .pushPull(pp))
        // Top-level keys and StatusLTimes keys come out sorted.
        var r = MessagePackReader(bytes, offset: 1)
        guard case .map(let pairs) = try r.read() else {
            Issue.record("not a map")
            return
        }
        #expect(pairs.compactMap(\.key.stringValue) == [
            "EventLTime", "Events", "LTime", "LeftMembers", "QueryLTime", "StatusLTimes",
        ])
        #expect(pairs[5].value.mapValue?.compactMap(\.key.stringValue) == ["a", "m", "zed"])
    }

    @Test func everyMessageRoundTrips() throws {
        let all: [SerfMessage] = [
            .leave(LeaveIntent(ltime: .max, node: "x", prune: true)),
            .join(JoinIntent(ltime: 0, node: "")),
            .userEvent(UserEventMessage(ltime: 5, name: "e", payload: [], cc: false)),
            .query(
                QueryMessage(
                    ltime: 1, id: 2, addr: Self.localhost, port: 3, sourceNode: "s",
                    filters: [
                        SerfCodec.encodeFilter(.nodes(["a", "b"])),
                        SerfCodec.encodeFilter(.tag(name: "role", expression: "^web$")),
                    ],
                    flags: 3, relayFactor: 2, timeout: -1, name: "q", payload: nil)),
            .query(
                QueryMessage(
                    ltime: 1, id: 2, addr: [], port: 0, sourceNode: "", filters: [], flags: 0, relayFactor: 0,
                    timeout: 0, name: "", payload: [9])),
            .queryResponse(QueryResponseMessage(ltime: 1, id: .max, from: "f", flags: 0, payload: [])),
            .relay(
                RelayHeader(destAddr: Self.localhost, destPort: 7946, destName: "a", destZone: ""),
                payload: SerfCodec.encode(
                    .queryResponse(QueryResponseMessage(ltime: 1, id: 1, from: "b", flags: 1, payload: nil)))),
        ]
        for m in all {
            #expect(try SerfCodec.decode(SerfCodec.encode(m)) == m, "\(m)")
        }
    }

    @Test func relayLayout() throws {
        let response = QueryResponseMessage(ltime: 1, id: 1, from: "b", flags: 0, payload: nil)
        let inner = SerfCodec.encode(.queryResponse(response))
        let header = RelayHeader(destAddr: Self.localhost, destPort: 7946, destName: "a")
        let bytes = SerfCodec.encode(.relay(header, payload: inner))
        // [9] {DestAddr: {IP, Port, Zone}, DestName} then the forwarded message unchanged.
        let expectedHeader = hex(
            "09 82 a8 4465737441646472 83 a2 4950 a4 7f000001 a4 506f7274 cd 1f0a a4 5a6f6e65 a0",
            "a8 446573744e616d65 a1 61"
        )
        #expect(hexString(bytes) == hexString(expectedHeader + inner))
    }

    @Test func filtersRoundTrip() throws {
        let nodes = QueryFilter.nodes(["a", "b"])
        #expect(SerfCodec.encodeFilter(nodes) == hex("00 92 a161 a162"))
        #expect(try SerfCodec.decodeFilter(SerfCodec.encodeFilter(nodes)) == nodes)
        let tag = QueryFilter.tag(name: "role", expression: "^web")
        #expect(SerfCodec.encodeFilter(tag) == hex("01 82 a4 45787072 a4 5e776562 a3 546167 a4 726f6c65"))
        #expect(try SerfCodec.decodeFilter(SerfCodec.encodeFilter(tag)) == tag)
        #expect(try SerfCodec.decodeFilter([0, 0xc0]) == .nodes([]))
        #expect(throws: WireError.self) { try SerfCodec.decodeFilter([]) }
        #expect(throws: WireError("unknown query filter type 2")) { try SerfCodec.decodeFilter([2, 0x80]) }
        #expect(throws: WireError.self) { try SerfCodec.decodeFilter([0, 0x05]) }
    }

    @Test func tags() throws {
        #expect(SerfCodec.encodeTags([:]) == [0xff, 0x80])
        let tags = ["role": "web", "dc": "lab1"]
        #expect(SerfCodec.encodeTags(tags) == hex("ff82 a26463 a46c616231 a4726f6c65 a3776562"))
        // Go's map order is random: the captured meta (role first) decodes to the same tags.
        #expect(try SerfCodec.decodeTags(hex("ff82a4726f6c65a3776562a26463a46c616231")) == tags)
        #expect(try SerfCodec.decodeTags([]) == [:])
        #expect(try SerfCodec.decodeTags(Array("db".utf8)) == ["role": "db"])
        #expect(throws: WireError.self) { try SerfCodec.decodeTags([0xff]) }
        #expect(throws: WireError.self) { try SerfCodec.decodeTags([0xff, 0x81, 0xa1, 0x61, 0x05]) }
        let many = Dictionary(uniqueKeysWithValues: (0..<40).map { ("k\($0)", "v\($0)") })
        #expect(try SerfCodec.decodeTags(SerfCodec.encodeTags(many)) == many)
    }

    @Test func conflictResponses() throws {
        #expect(SerfCodec.encodeConflictResponse(nil) == [6, 0xc0])
        #expect(try SerfCodec.decodeConflictResponse([6, 0xc0]) == nil)
        let member = SerfMemberRecord(
            name: "b", addr: Self.localhost, port: 7947, tags: ["role": "web"], status: 1, vsn: defaultVersionVector)
        let bytes = SerfCodec.encodeConflictResponse(member)
        #expect(try SerfCodec.decodeConflictResponse(bytes) == member)
        var r = MessagePackReader(bytes, offset: 1)
        guard case .map(let pairs) = try r.read() else {
            Issue.record("not a map")
            return
        }
        #expect(pairs.compactMap(\.key.stringValue) == [
            "Addr", "DelegateCur", "DelegateMax", "DelegateMin", "Name", "Port", "ProtocolCur", "ProtocolMax",
            "ProtocolMin", "Status", "Tags",
        ])
        #expect(throws: WireError.self) { try SerfCodec.decodeConflictResponse([8, 0xc0]) }
    }

    @Test func unknownAndMisplacedTypesAreErrors() throws {
        #expect(throws: WireError("empty serf message")) { try SerfCodec.decode([]) }
        #expect(throws: WireError("unknown serf message type 10")) { try SerfCodec.decode([10, 0x80]) }
        #expect(throws: WireError("unknown serf message type 255")) { try SerfCodec.decode([255]) }
        for t: UInt8 in [6, 7, 8] {
            #expect(throws: WireError.self) { try SerfCodec.decode([t, 0x80]) }
        }
        #expect(throws: WireError.self) { try SerfCodec.decodeKeyRequest([8, 0x80]) }
        #expect(throws: WireError.self) { try SerfCodec.decodeKeyResponse([]) }
    }

    /// Go refuses bin in a string field; so do we, rather than accept what Go would reject and gossip it on.
    @Test func binInAStringFieldIsRejected() throws {
        let body = hex("82 a54c54696d6501 a44e6f6465 c40162")
        #expect(throws: WireError.self) { try SerfCodec.decode([1] + body) }
        // A []byte field takes either form.
        let event = hex("03 84 a24343c2 a54c54696d6501 a44e616d65 a165 a75061796c6f6164 c40162")
        let want = UserEventMessage(ltime: 1, name: "e", payload: [0x62], cc: false)
        #expect(try SerfCodec.decode(event) == .userEvent(want))
    }
}
