import RumorAgent
@testable import RumorCLI
import RumorWire
import Testing

/// `rumor monitor` prints stream records as serf's monitor does (Go's `%#v` of go-msgpack's decoded values); the
/// expected lines were captured from the real `serf monitor`.
@Suite struct RPCMonitorOutputTests {
    func lines(_ record: RPCStreamRecord) throws -> [String] {
        var reader = MessagePackReader(record.rpcBytes)
        return MonitorCommand.eventLines(try reader.read())
    }

    @Test func memberEvent() throws {
        let s1 = RPCMember(
            name: "s1", addr: [127, 0, 90, 1], port: 7946, tags: ["role": "web"], status: "alive",
            protocolMin: 1, protocolMax: 5, protocolCur: 2, delegateMin: 2, delegateMax: 5, delegateCur: 5)
        #expect(try lines(.member(event: "member-update", members: [s1])) == [
            "Event Info:",
            "\tEvent: \"member-update\"",
            "\tMembers: []interface {}{map[interface {}]interface {}{\"Addr\":[]uint8{0x7f, 0x0, 0x5a, 0x1}, "
                + "\"DelegateCur\":5, \"DelegateMax\":5, \"DelegateMin\":2, \"Name\":\"s1\", \"Port\":0x1f0a, "
                + "\"ProtocolCur\":2, \"ProtocolMax\":5, \"ProtocolMin\":1, \"Status\":\"alive\", "
                + "\"Tags\":map[interface {}]interface {}{\"role\":\"web\"}}}",
        ])
    }

    @Test func userAndQueryEvents() throws {
        #expect(try lines(.user(ltime: 2, name: "deploy", payload: Array("hi".utf8), coalesce: false)) == [
            "Event Info:", "\tCoalesce: false", "\tEvent: \"user\"", "\tLTime: 2", "\tName: \"deploy\"",
            "\tPayload: []byte{0x68, 0x69}",
        ])
        #expect(try lines(.query(id: 1, ltime: 300, name: "q\t\"x\"", payload: nil)) == [
            "Event Info:", "\tEvent: \"query\"", "\tID: 1", "\tLTime: 0x12c", "\tName: \"q\\t\\\"x\\\"\"",
            "\tPayload: <nil>",
        ])
    }
}
