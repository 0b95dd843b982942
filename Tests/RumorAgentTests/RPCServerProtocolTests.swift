import NIOCore
@testable import RumorAgent
import RumorWire
import Testing

/// Framing, ordering and misbehaving clients, over a bare socket.
@Suite struct RPCServerProtocolTests {
    typealias Command = RPCProtocol.Command
    typealias ErrorText = RPCProtocol.ErrorText

    /// The exact bytes of the captured `serf members` exchange (T13 in docs/interop.md#vectors), for our encoder.
    @Test func memberRecordBytesMatchSerf() throws {
        let a = RPCMember(
            name: "a", addr: [127, 0, 0, 1], port: 7946, tags: [:], status: "alive",
            protocolMin: 1, protocolMax: 5, protocolCur: 2, delegateMin: 2, delegateMax: 5, delegateCur: 5)
        var b = a
        b.name = "b"
        b.port = 7947
        b.tags = ["role": "web", "dc": "lab1"]
        let bytes = RPCResponseHeader(seq: 1).rpcBytes + RPCResponseHeader(seq: 2).rpcBytes
            + RPCMembersResponse(members: [a, b]).rpcBytes
        let hex = bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        // T13, except that our map keys are sorted ("dc" before "role"); Go's map order is random.
        let t13 = [
            "82a54572726f72a0a35365710182a54572726f72a0a35365710281a74d656d62657273928ba441646472c4047f000001ab44",
            "656c656761746543757205ab44656c65676174654d617805ab44656c65676174654d696e02a44e616d65a161a4506f7274cd",
            "1f0aab50726f746f636f6c43757202ab50726f746f636f6c4d617805ab50726f746f636f6c4d696e01a6537461747573a561",
            "6c697665a454616773808ba441646472c4047f000001ab44656c656761746543757205ab44656c65676174654d617805ab44",
            "656c65676174654d696e02a44e616d65a162a4506f7274cd1f0bab50726f746f636f6c43757202ab50726f746f636f6c4d61",
            "7805ab50726f746f636f6c4d696e01a6537461747573a5616c697665a45461677382a4726f6c65a3776562a26463a46c6162",
            "31",
        ].joined()
        let sortedTags = t13.replacingOccurrences(
            "82a4726f6c65a3776562a26463a46c616231", "82a26463a46c616231a4726f6c65a3776562")
        #expect(hex == sortedTags)
    }

    @Test func commandBeforeHandshakeIsRefusedAndClosed() async throws {
        try await RPCHarness.with { h in
            let c = try RawConnection(h.address)
            try c.send(Command.members, seq: 7)
            #expect(try c.readHeader() == RPCResponseHeader(error: ErrorText.handshakeRequired, seq: 7))
            #expect(try c.isClosedByServer())
        }
    }

    @Test func handshakeErrors() async throws {
        try await RPCHarness.with { h in
            let c = try RawConnection(h.address)
            try c.send(Command.handshake, seq: 1, RPCHandshakeRequest(version: 2))
            #expect(try c.readHeader() == RPCResponseHeader(error: ErrorText.unsupportedIPCVersion, seq: 1))
            try c.send(Command.handshake, seq: 2, RPCHandshakeRequest())
            #expect(try c.readHeader() == RPCResponseHeader(seq: 2))
            try c.send(Command.handshake, seq: 3, RPCHandshakeRequest())
            #expect(try c.readHeader() == RPCResponseHeader(error: ErrorText.duplicateHandshake, seq: 3))
            // Still usable.
            try c.send(Command.members, seq: 4)
            #expect(try c.readHeader() == RPCResponseHeader(seq: 4))
            #expect(try RPCMembersResponse(from: c.read()).members.count == 4)
        }
    }

    @Test func unknownCommandIsRefusedAndClosed() async throws {
        try await RPCHarness.with { h in
            let c = try RawConnection(h.address)
            try c.send(Command.handshake, seq: 1, RPCHandshakeRequest())
            #expect(try c.readHeader() == RPCResponseHeader(seq: 1))
            try c.send("frobnicate", seq: 2)
            #expect(try c.readHeader() == RPCResponseHeader(error: ErrorText.unsupportedCommand, seq: 2))
            #expect(try c.isClosedByServer())
            #expect(h.logs.contains("unsupported command 'frobnicate'"))
        }
    }

    /// Everything sent in one write; the slow join must still be answered before the members that follow it.
    @Test func pipelinedRepliesKeepRequestOrder() async throws {
        try await RPCHarness.with(joinDelay: .milliseconds(100)) { h in
            let c = try RawConnection(h.address)
            var bytes = RPCRequestHeader(command: Command.handshake, seq: 1).rpcBytes + RPCHandshakeRequest().rpcBytes
            bytes += RPCRequestHeader(command: Command.join, seq: 2).rpcBytes
            bytes += RPCJoinRequest(existing: ["10.1.1.1"], replay: false).rpcBytes
            bytes += RPCRequestHeader(command: Command.members, seq: 3).rpcBytes
            bytes += RPCRequestHeader(command: Command.stats, seq: 4).rpcBytes
            bytes += RPCRequestHeader(command: Command.stop, seq: 5).rpcBytes + RPCStopRequest(stop: 99).rpcBytes
            try c.send(bytes)
            #expect(try c.readHeader() == RPCResponseHeader(seq: 1))
            #expect(try c.readHeader() == RPCResponseHeader(seq: 2))
            #expect(try RPCJoinResponse(from: c.read()).num == 1)
            #expect(try c.readHeader() == RPCResponseHeader(seq: 3))
            #expect(try RPCMembersResponse(from: c.read()).members.map(\.name) == ["alpha", "db", "v6", "web-2"])
            #expect(try c.readHeader() == RPCResponseHeader(seq: 4))
            #expect(try RPCStatsResponse(from: c.read()).sections["agent"] == ["name": "alpha"])
            #expect(try c.readHeader() == RPCResponseHeader(seq: 5))
        }
    }

    /// A request refused for want of auth has its body read and dropped, so the next request parses (serf's own
    /// agent leaves the body in the stream).
    @Test func rejectedRequestBodyIsDiscarded() async throws {
        try await RPCHarness.with(authKey: "k") { h in
            let c = try RawConnection(h.address)
            try c.send(Command.handshake, seq: 1, RPCHandshakeRequest())
            #expect(try c.readHeader() == RPCResponseHeader(seq: 1))
            try c.send(Command.membersFiltered, seq: 2, RPCMembersFilteredRequest(name: "alpha"))
            #expect(try c.readHeader() == RPCResponseHeader(error: ErrorText.authRequired, seq: 2))
            try c.send(Command.auth, seq: 3, RPCAuthRequest(authKey: "wrong"))
            #expect(try c.readHeader() == RPCResponseHeader(error: ErrorText.invalidAuthToken, seq: 3))
            try c.send(Command.auth, seq: 4, RPCAuthRequest(authKey: "k"))
            #expect(try c.readHeader() == RPCResponseHeader(seq: 4))
            try c.send(Command.membersFiltered, seq: 5, RPCMembersFilteredRequest(name: "alpha"))
            #expect(try c.readHeader() == RPCResponseHeader(seq: 5))
            #expect(try RPCMembersResponse(from: c.read()).members.map(\.name) == ["alpha"])
        }
    }

    static let garbage: [String: [UInt8]] = {
        let wrongTypes: [UInt8] = [0x82, 0xa7] + Array("Command".utf8) + [0x05, 0xa3] + Array("Seq".utf8) + [0xa1, 0x78]
        let random: [UInt8] = (0..<4096).map { (i: Int) in UInt8(truncatingIfNeeded: (i &* 2_654_435_761) >> 7) }
        return [
            "unknown type byte": [0xc1, 0x00, 0x01],
            "header not a map": [0x93, 0x01, 0x02, 0x03],
            "wrong field types": wrongTypes,
            "random bytes": random,
            "too deep": [UInt8](repeating: 0x91, count: 100),
        ]
    }()

    @Test(arguments: garbage.keys.sorted())
    func garbageClosesOnlyThatConnection(_ name: String) async throws {
        let garbage = Self.garbage[name]!
        try await RPCHarness.with { h in
            let bad = try RawConnection(h.address)
            try bad.send(garbage)
            #expect(try bad.isClosedByServer(), "\(name)")
            #expect(h.logs.contains("closing client connection"), "\(h.logs.all)")
            let out = try await h.serf("members")
            #expect(out.status == 0 && out.stdout == RPCServerSerfCLITests.membersText + "\n", "\(out)")
        }
    }

    @Test func garbageAfterHandshakeInBodyCloses() async throws {
        try await RPCHarness.with { h in
            let c = try RawConnection(h.address)
            try c.send(Command.handshake, seq: 1, RPCHandshakeRequest())
            #expect(try c.readHeader() == RPCResponseHeader(seq: 1))
            // A join body whose Existing is a number.
            let header = RPCRequestHeader(command: Command.join, seq: 2).rpcBytes
            try c.send(header + [0x81, 0xa8] + Array("Existing".utf8) + [0x05])
            #expect(try c.isClosedByServer())
            #expect(h.logs.contains("malformed 'join' request"), "\(h.logs.all)")
            #expect(h.backend.calls.joins.isEmpty)
        }
    }

    @Test func truncatedObjectsAndHangupsAreHarmless() async throws {
        try await RPCHarness.with { h in
            // Half a header, then hang up.
            let half = try RawConnection(h.address)
            try half.send(Array(RPCRequestHeader(command: Command.handshake, seq: 1).rpcBytes.prefix(9)))
            half.close()
            // A string that claims 4 GiB, then hang up.
            let huge = try RawConnection(h.address)
            try huge.send([0x82, 0xa7] + Array("Command".utf8) + [0xdb, 0xff, 0xff, 0xff, 0xff, 0x41])
            huge.close()
            // Hang up while a reply is still on its way.
            let early = try RawConnection(h.address)
            try early.send(
                RPCRequestHeader(command: Command.handshake, seq: 1).rpcBytes + RPCHandshakeRequest().rpcBytes
                    + RPCRequestHeader(command: Command.members, seq: 2).rpcBytes)
            early.close()

            let out = try await h.serf("members")
            #expect(out.status == 0 && out.stdout == RPCServerSerfCLITests.membersText + "\n", "\(out)")
        }
    }

    @Test func oversizedRequestIsRefused() async throws {
        try await RPCHarness.with { h in
            let c = try RawConnection(h.address)
            // A str32 header that would need more than the buffer limit.
            var bytes: [UInt8] = [0xdb, 0x00, 0x20, 0x00, 0x00]
            bytes += [UInt8](repeating: 0x41, count: 1 << 20)
            do { try c.send(bytes) } catch {}  // the server may close before all is written
            #expect(try c.isClosedByServer())
            #expect(h.logs.contains("unprocessed requests"), "\(h.logs.all)")
        }
    }

    @Test func closeDisconnectsClients() async throws {
        try await RPCHarness.with { h in
            let c = try RawConnection(h.address)
            try c.send(Command.handshake, seq: 1, RPCHandshakeRequest())
            #expect(try c.readHeader() == RPCResponseHeader(seq: 1))
            try await h.server.close().get()
            #expect(try c.isClosedByServer())
            #expect(h.server.localAddress == nil)
        }
    }

    @Test func joinErrorTextMatchesGoMultierror() {
        #expect(RPCCommands.joinErrorText(JoinResult(joined: 1, errors: ["x"])) == "")
        #expect(RPCCommands.joinErrorText(JoinResult(joined: 0, errors: [])) == "")
        #expect(RPCCommands.joinErrorText(JoinResult(joined: 0, errors: ["boom"])) == "1 error occurred:\n\t* boom\n\n")
    }
}

extension String {
    fileprivate func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: target) {
            out += rest[..<r.lowerBound] + replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
