import Logging
import NIOCore
@testable import RumorAgent
@testable import RumorCore
import RumorWire
import Testing
import RumorTestSupport

/// event, tags, query, respond, stream, monitor, stop, keys and get-coordinate: the real serf CLI and raw sockets
/// against our RPC server in front of an EventFakeBackend.
@Suite struct RPCEventCommandTests {
    typealias Command = RPCProtocol.Command
    typealias ErrorText = RPCProtocol.ErrorText

    // MARK: event, tags

    @Test func serfEvent() async throws {
        try await RPCEventHarness.with { h in
            let out = try await h.serf("event", "deploy", "v1.2")
            #expect(out.status == 0 && out.stdout == "Event 'deploy' dispatched! Coalescing enabled: true\n", "\(out)")
            let plain = try await h.serf("event", "-coalesce=false", "restart")
            #expect(plain.stdout == "Event 'restart' dispatched! Coalescing enabled: false\n", "\(plain)")
            let events = h.backend.calls.events
            #expect(events.map(\.name) == ["deploy", "restart"])
            #expect(events.map(\.payload) == [Array("v1.2".utf8), []])
            #expect(events.map(\.coalesce) == [true, false])

            let limit = "user event exceeds configured limit of 512 bytes before encoding"
            h.backend.setEventError(limit)
            let big = try await h.serf("event", "big", String(repeating: "x", count: 600))
            #expect(big.status == 1 && big.stdout == "Error sending event: \(limit)\n", "\(big)")
        }
    }

    @Test func serfTags() async throws {
        try await RPCEventHarness.with { h in
            let out = try await h.serf("tags", "-set", "role=web", "-set", "dc=lab=1", "-delete", "old")
            #expect(out.status == 0 && out.stdout == "Successfully updated agent tags\n", "\(out)")
            let updates = h.backend.calls.tagUpdates
            #expect(updates.count == 1)
            #expect(updates.first?.set == ["role": "web", "dc": "lab=1"])
            #expect(updates.first?.delete == ["old"])
        }
    }

    // MARK: query

    @Test func serfQueryText() async throws {
        try await RPCEventHarness.with { h in
            h.backend.setQueryScript(.init(
                acks: ["n1", "n2"], responses: [("n1", Array("hi\n".utf8)), ("n2", Array("yo".utf8))]))
            let out = try await h.serf(
                "query", "-node", "n1", "-node", "n2", "-tag", "role=w.b", "-timeout=2s", "-relay-factor=2", "q", "p")
            #expect(out.status == 0, "\(out)")
            // serf's CLI reads acks and responses from two channels, so their relative order is not fixed.
            let lines = out.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(lines.first == "Query 'q' dispatched")
            #expect(lines.suffix(3) == ["Total Acks: 2", "Total Responses: 2", ""])
            #expect(Set(lines.dropFirst().dropLast(3)) == [
                "Ack from 'n1'", "Ack from 'n2'", "Response from 'n1': hi", "Response from 'n2': yo",
            ])
            let q = try #require(h.backend.calls.queries.first)
            #expect(q.name == "q" && q.payload == Array("p".utf8))
            #expect(q.filterNodes == ["n1", "n2"] && q.filterTags == ["role": "w.b"])
            #expect(q.requestAck && q.relayFactor == 2 && q.timeout == .seconds(2))
        }
    }

    @Test func serfQueryJSONWithoutAcks() async throws {
        try await RPCEventHarness.with { h in
            h.backend.setQueryScript(.init(responses: [("n2", Array("yo".utf8)), ("n1", Array("hi\n".utf8))]))
            let out = try await h.serf("query", "-format=json", "-no-ack", "q")
            #expect(out.status == 0, "\(out)")
            #expect(out.stdout == """
                {
                  "Acks": null,
                  "Responses": {
                    "n1": "hi\\n",
                    "n2": "yo"
                  }
                }

                """)
            let q = try #require(h.backend.calls.queries.first)
            #expect(!q.requestAck && q.timeout == nil && q.payload.isEmpty && q.filterNodes.isEmpty)
        }
    }

    @Test func serfQueryRefused() async throws {
        try await RPCEventHarness.with { h in
            let text = "Queries cannot contain the '_serf_' prefix"
            h.backend.setQueryScript(.init(refusal: text))
            let out = try await h.serf("query", "_serf_x")
            #expect(out.status == 1 && out.stdout == "Error sending query: \(text)\n", "\(out)")
        }
    }

    /// Records come after the bare reply even when the backend reports acks before the query has "started".
    @Test func queryRecordsFollowTheReply() async throws {
        try await RPCEventHarness.with { h in
            h.backend.setQueryScript(.init(acks: ["a"], responses: [("a", [])], doneAfter: .milliseconds(20)))
            let c = try h.connect()
            try c.send(Command.query, seq: 2, RPCQueryRequest(name: "q", payload: nil, requestAck: true))
            #expect(try c.readHeader() == RPCResponseHeader(seq: 2))
            #expect(try c.readHeader() == RPCResponseHeader(seq: 2))
            #expect(try RPCQueryRecord(from: c.read()) == RPCQueryRecord(type: "ack", from: "a"))
            #expect(try c.readHeader() == RPCResponseHeader(seq: 2))
            // An empty response payload goes out as nil, as Go's decoder leaves it.
            #expect(try RPCQueryRecord(from: c.read()) == RPCQueryRecord(type: "response", from: "a", payload: nil))
            #expect(try c.readHeader() == RPCResponseHeader(seq: 2))
            let done = try c.read()
            #expect(try RPCQueryRecord(from: done) == .done)
            // {From: "", Payload: nil, Type: "done"}, bytes as serf writes them.
            #expect(RPCQueryRecord.done.rpcBytes == [0x83, 0xa4] + Array("From".utf8) + [0xa0, 0xa7]
                + Array("Payload".utf8) + [0xc0, 0xa4] + Array("Type".utf8) + [0xa4] + Array("done".utf8))
        }
    }

    // MARK: stream, respond, stop

    @Test func streamFilterErrors() async throws {
        try await RPCEventHarness.with { h in
            let c = try h.connect()
            // Items are not trimmed, as in serf's ParseEventFilter.
            for (seq, bad) in [(2, "bogus"), (3, "member-join, user"), (4, "user,,query")] as [(UInt64, String)] {
                try c.send(Command.stream, seq: seq, RPCStreamRequest(type: bad))
                #expect(try c.readHeader() == RPCResponseHeader(error: ErrorText.invalidFilter, seq: seq), "\(bad)")
            }
            try c.send(Command.stream, seq: 5, RPCStreamRequest(type: ""))
            #expect(try c.readHeader() == RPCResponseHeader(seq: 5))
            try c.send(Command.stream, seq: 5, RPCStreamRequest(type: "*"))
            #expect(try c.readHeader() == RPCResponseHeader(error: ErrorText.streamExists, seq: 5))
        }
    }

    @Test func streamRecordsRespondAndStop() async throws {
        try await RPCEventHarness.with { h in
            let c = try h.connect()
            try c.send(Command.stream, seq: 2, RPCStreamRequest(type: "member-join,user:deploy,query"))
            #expect(try c.readHeader() == RPCResponseHeader(seq: 2))
            let backend = h.backend
            try await eventually("stream listener") { backend.listenerCount == 1 }

            let a = Member.sample("a", tags: ["role": "web"])
            backend.emit(.memberFailed(a))  // filtered out
            backend.emit(.memberJoined(a))
            backend.emit(.userEvent(UserEvent(ltime: 3, name: "other", payload: [1], coalesce: false)))  // filtered
            backend.emit(.userEvent(UserEvent(ltime: 4, name: "deploy", payload: [], coalesce: true)))
            backend.emit(.query(.sample("who", payload: "x", ltime: 9, id: 42)))
            backend.emit(.query(.sample("who", payload: "", ltime: 10, id: 43)))
            backend.emit(.queryAck(id: 1, from: "z"))  // never streamed

            func record() throws -> RPCStreamRecord {
                #expect(try c.readHeader() == RPCResponseHeader(seq: 2))
                return try RPCStreamRecord(from: c.read())
            }
            #expect(try record() == .member(event: "member-join", members: [RPCMember(a)]))
            #expect(try record() == .user(ltime: 4, name: "deploy", payload: nil, coalesce: true))
            #expect(try record() == .query(id: 1, ltime: 9, name: "who", payload: Array("x".utf8)))
            #expect(try record() == .query(id: 2, ltime: 10, name: "who", payload: nil))

            // Field names and order, as serf's userEventRecord and queryEventRecord.
            let user = RPCStreamRecord.user(ltime: 4, name: "d", payload: nil, coalesce: true).rpcBytes
            #expect(user == [0x85, 0xa8] + Array("Coalesce".utf8) + [0xc3, 0xa5] + Array("Event".utf8) + [0xa4]
                + Array("user".utf8) + [0xa5] + Array("LTime".utf8) + [0x04, 0xa4] + Array("Name".utf8) + [0xa1]
                + Array("d".utf8) + [0xa7] + Array("Payload".utf8) + [0xc0])

            try c.send(Command.respond, seq: 3, RPCRespondRequest(id: 1, payload: Array("ok".utf8)))
            #expect(try c.readHeader() == RPCResponseHeader(seq: 3))
            let responses = backend.calls.responses
            #expect(responses.count == 1 && responses.first?.ltime == 9 && responses.first?.id == 42)
            #expect(responses.first?.payload == Array("ok".utf8))

            try c.send(Command.respond, seq: 4, RPCRespondRequest(id: 99, payload: nil))
            #expect(try c.readHeader() == RPCResponseHeader(error: ErrorText.invalidQueryID, seq: 4))

            // Past its deadline the ID is forgotten, as serf forgets it when the query times out.
            backend.setRespondError(id: 43, "response is past the deadline")
            try c.send(Command.respond, seq: 5, RPCRespondRequest(id: 2, payload: nil))
            #expect(try c.readHeader() == RPCResponseHeader(error: ErrorText.invalidQueryID, seq: 5))
            backend.setRespondError(id: 42, "response already sent")
            try c.send(Command.respond, seq: 6, RPCRespondRequest(id: 1, payload: nil))
            #expect(try c.readHeader() == RPCResponseHeader(error: "response already sent", seq: 6))

            try c.send(Command.stop, seq: 7, RPCStopRequest(stop: 2))
            #expect(try c.readHeader() == RPCResponseHeader(seq: 7))
            #expect(backend.listenerCount == 0)
            backend.emit(.memberJoined(a))
            #expect(throws: RawTimeout.self) { _ = try c.read(timeoutMillis: 200) }
        }
    }

    /// Serf coalesces member events before its streams too: a burst comes out as one record per type.
    @Test func streamCoalescesLikeSerf() async throws {
        let periods = CoalescePeriods(period: .milliseconds(400), quiescent: .milliseconds(100))
        try await RPCEventHarness.with(coalesce: periods) { h in
            let c = try h.connect()
            try c.send(Command.stream, seq: 2, RPCStreamRequest(type: "*"))
            #expect(try c.readHeader() == RPCResponseHeader(seq: 2))
            let backend = h.backend
            try await eventually("stream listener") { backend.listenerCount == 1 }
            let (a, b) = (Member.sample("a"), Member.sample("b", port: 7947))
            backend.emit(.memberJoined(a))
            backend.emit(.memberJoined(b))
            backend.emit(.userEvent(UserEvent(ltime: 1, name: "now", payload: [], coalesce: false)))
            #expect(try c.readHeader() == RPCResponseHeader(seq: 2))
            #expect(try RPCStreamRecord(from: c.read()) == .user(ltime: 1, name: "now", payload: nil, coalesce: false))
            #expect(try c.readHeader() == RPCResponseHeader(seq: 2))
            #expect(try RPCStreamRecord(from: c.read()) == .member(event: "member-join", members: [.init(a), .init(b)]))
        }
    }

    /// A disconnect ends the client's streams.
    @Test func disconnectRemovesListeners() async throws {
        try await RPCEventHarness.with { h in
            let c = try h.connect()
            try c.send(Command.stream, seq: 2, RPCStreamRequest(type: "*"))
            try c.send(Command.stream, seq: 3, RPCStreamRequest(type: "user"))
            #expect(try c.readHeader() == RPCResponseHeader(seq: 2))
            #expect(try c.readHeader() == RPCResponseHeader(seq: 3))
            let backend = h.backend
            try await eventually("two listeners") { backend.listenerCount == 2 }
            c.close()
            try await eventually("listeners removed") { backend.listenerCount == 0 }
        }
    }

    // MARK: monitor

    @Test func monitorLevelsReplayAndStop() async throws {
        try await RPCEventHarness.with { h in
            h.sink.write("2026/01/01 00:00:00 [INFO] old info", level: .info)
            h.sink.write("2026/01/01 00:00:00 [WARN] old warning", level: .warning)
            let c = try h.connect()
            try c.send(Command.monitor, seq: 2, RPCMonitorRequest(logLevel: "verbose"))
            #expect(try c.readHeader() == RPCResponseHeader(error: "Unknown log level: VERBOSE", seq: 2))
            try c.send(Command.monitor, seq: 3, RPCMonitorRequest(logLevel: ""))
            #expect(try c.readHeader() == RPCResponseHeader(error: "Unknown log level: ", seq: 3))

            try c.send(Command.monitor, seq: 4, RPCMonitorRequest(logLevel: "warn"))
            #expect(try c.readHeader() == RPCResponseHeader(seq: 4))
            #expect(try c.readHeader() == RPCResponseHeader(seq: 4))
            #expect(try RPCLogRecord(from: c.read()).log == "2026/01/01 00:00:00 [WARN] old warning")

            try c.send(Command.monitor, seq: 5, RPCMonitorRequest(logLevel: "debug"))
            #expect(try c.readHeader() == RPCResponseHeader(error: ErrorText.monitorExists, seq: 5))

            h.sink.write("live debug", level: .debug)
            h.sink.write("live error", level: .error)
            #expect(try c.readHeader() == RPCResponseHeader(seq: 4))
            #expect(try RPCLogRecord(from: c.read()).log == "live error")

            try c.send(Command.stop, seq: 6, RPCStopRequest(stop: 4))
            #expect(try c.readHeader() == RPCResponseHeader(seq: 6))
            h.sink.write("after stop", level: .error)
            // Another monitor is allowed once the first is stopped; it replays everything at its level.
            try c.send(Command.monitor, seq: 7, RPCMonitorRequest(logLevel: "ERR"))
            #expect(try c.readHeader() == RPCResponseHeader(seq: 7))
            #expect(try c.readHeader() == RPCResponseHeader(seq: 7))
            #expect(try RPCLogRecord(from: c.read()).log == "live error")
            #expect(try c.readHeader() == RPCResponseHeader(seq: 7))
            #expect(try RPCLogRecord(from: c.read()).log == "after stop")
        }
    }

    // MARK: keys

    @Test func serfKeysList() async throws {
        try await RPCEventHarness.with { h in
            var result = KeyOperationResult(numNodes: 3)
            (result.numResp, result.keys) = (3, ["bbbb": 3, "aaaa": 1])
            h.backend.setKeyResult(.success(result))
            let out = try await h.serf("keys", "-list")
            #expect(out.status == 0, "\(out)")
            // serf's CLI prints keys in Go's random map order: compare the key lines as a set.
            let lines = out.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(lines.prefix(3) == ["==> Asking all members for installed keys...",
                                        "==> Keys gathered, listing cluster keys...", ""], "\(out)")
            #expect(Set(lines.dropFirst(3)) == ["aaaa  [1/3]", "bbbb  [3/3]", ""], "\(out)")
            #expect(h.backend.calls.keyOperations.map(\.op) == [.list])
        }
    }

    @Test func serfKeysFailures() async throws {
        try await RPCEventHarness.with { h in
            var result = KeyOperationResult(numNodes: 3)
            (result.numResp, result.numErr, result.messages) = (2, 1, ["node-b": "Key not found"])
            h.backend.setKeyResult(.success(result))
            let out = try await h.serf("keys", "-remove", "a2V5")
            #expect(out.status == 1)
            #expect(out.stdout == """
                ==> Removing key on all members...
                failed:  node-b  Key not found

                Error removing key: 1/3 nodes reported failure

                """, "\(out)")
            #expect(h.backend.calls.keyOperations.first?.op == .remove)
            #expect(h.backend.calls.keyOperations.first?.key == "a2V5")

            // Missing answers without errors: the other summary.
            var partial = KeyOperationResult(numNodes: 3)
            partial.numResp = 2
            h.backend.setKeyResult(.success(partial))
            let use = try await h.serf("keys", "-use", "a2V5")
            #expect(use.status == 1)
            #expect(use.stdout.hasSuffix("\nError changing primary key: 2/3 nodes reported success\n"), "\(use)")

            h.backend.setKeyResult(.failure(.init(description: "illegal base64 data at input byte 4")))
            let bad = try await h.serf("keys", "-install", "nope")
            #expect(bad.stdout == """
                ==> Installing key on all members...

                Error installing key: illegal base64 data at input byte 4

                """, "\(bad)")
        }
    }

    /// `{Keys, Messages, NumErr, NumNodes, NumResp}`; Keys nil except for list-keys.
    @Test func keyResponseBytes() async throws {
        try await RPCEventHarness.with { h in
            var result = KeyOperationResult(numNodes: 2)
            (result.numResp, result.keys) = (2, ["k": 2])
            h.backend.setKeyResult(.success(result))
            let c = try h.connect()
            try c.send(Command.installKey, seq: 2, RPCKeyRequest(key: "a2V5"))
            #expect(try c.readHeader() == RPCResponseHeader(seq: 2))
            let install = try c.read()
            #expect(try RPCKeyResponse(from: install) == RPCKeyResponse(keys: nil, numNodes: 2, numResp: 2))
            #expect(RPCKeyResponse(numNodes: 2, numResp: 2).rpcBytes == [0x85, 0xa4] + Array("Keys".utf8) + [0xc0, 0xa8]
                + Array("Messages".utf8) + [0x80, 0xa6] + Array("NumErr".utf8) + [0x00, 0xa8] + Array("NumNodes".utf8)
                + [0x02, 0xa7] + Array("NumResp".utf8) + [0x02])
            try c.send(Command.listKeys, seq: 3)
            #expect(try c.readHeader() == RPCResponseHeader(seq: 3))
            #expect(try RPCKeyResponse(from: c.read()).keys == ["k": 2])
        }
    }

    // MARK: get-coordinate

    @Test func unknownNodesHaveNoCoordinate() async throws {
        try await RPCEventHarness.with { h in
            let c = try h.connect()
            try c.send(Command.getCoordinate, seq: 2, RPCCoordinateRequest(node: "alpha"))
            #expect(try c.readHeader() == RPCResponseHeader(seq: 2))
            let body = try c.read()
            #expect(try RPCCoordinateResponse(from: body) == .unknown)
            let zero: [UInt8] = [0xcb, 0, 0, 0, 0, 0, 0, 0, 0]
            #expect(RPCCoordinateResponse.unknown.rpcBytes == [0x82, 0xa5] + Array("Coord".utf8) + [0x84, 0xaa]
                + Array("Adjustment".utf8) + zero + [0xa5] + Array("Error".utf8) + zero + [0xa6]
                + Array("Height".utf8) + zero + [0xa3] + Array("Vec".utf8) + [0xc0, 0xa2] + Array("Ok".utf8) + [0xc2])

            let rtt = try await h.serf("rtt", "alpha", "db")
            #expect(rtt.status == 1 && rtt.stdout == "Could not find a coordinate for node \"alpha\"\n", "\(rtt)")
        }
    }
}
