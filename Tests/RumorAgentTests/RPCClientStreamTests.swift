import RumorAgent
@testable import RumorCLI
import RumorWire
import Testing

/// The client's streamed-record plumbing (for query, stream, monitor), against a scripted server.
@Suite struct RPCClientStreamTests {
    @Test func recordsArriveInOrderAndAroundOtherCalls() throws {
        let server = try ScriptedRPCServer()
        let script = server.serve { peer in
            #expect(try peer.readHeader() == RPCRequestHeader(command: "handshake", seq: 1))
            _ = try peer.read()
            try peer.reply(seq: 1)

            #expect(try peer.readHeader() == RPCRequestHeader(command: "monitor", seq: 2))
            _ = try peer.read()
            try peer.reply(seq: 2)
            try peer.reply(seq: 2, LogRecord(log: "one"))

            // A record for the stream arrives while the client waits for another reply.
            #expect(try peer.readHeader() == RPCRequestHeader(command: "members", seq: 3))
            try peer.reply(seq: 2, LogRecord(log: "two"))
            try peer.reply(seq: 3, RPCMembersResponse(members: []))

            #expect(try peer.readHeader() == RPCRequestHeader(command: "stop", seq: 4))
            #expect(try RPCStopRequest(from: peer.read()).stop == 2)
            try peer.reply(seq: 4)
        }

        let client = try RPCClient(address: "127.0.0.1:\(server.port)", authKey: nil)
        let seq = try client.startStream("monitor", LogRecord(log: "debug"))
        #expect(seq == 2)
        #expect(try client.nextRecord(of: seq)?.mapValue?.first?.value.stringValue == "one")
        #expect(try client.members().isEmpty)
        #expect(try client.nextRecord(of: seq)?.mapValue?.first?.value.stringValue == "two")
        #expect(try client.nextRecord(of: seq, timeout: .milliseconds(50)) == nil)
        try client.stopStream(seq)
        client.close()
        try script.wait()
    }

    @Test func streamErrorIsReported() throws {
        let server = try ScriptedRPCServer()
        let script = server.serve { peer in
            _ = try peer.readHeader()
            _ = try peer.read()
            try peer.reply(seq: 1)
            #expect(try peer.readHeader().command == "stream")
            _ = try peer.read()
            try peer.reply(seq: 2, error: RPCProtocol.ErrorText.invalidFilter)
        }
        let client = try RPCClient(address: "127.0.0.1:\(server.port)", authKey: nil)
        #expect(throws: RPCClientError(.remote, "Invalid event filter")) {
            _ = try client.startStream("stream", LogRecord(log: "bogus"))
        }
        try script.wait()
    }
}
