@testable import RumorAgent
import RumorCore
import RumorWire
import Testing

/// The script contract (docs/agent.md#handlers) as pure data: variables, stdin bytes, the output ring.
@Suite("Handler invocation contract")
struct HandlerInvocationTests {
    let me = handlerMember("node1", "10.0.0.9", tags: ["role": "lb", "dc-name": "lab1", "a.b": "x"])

    func vars(_ inv: ScriptInvocation) -> [String] { inv.variables.map { "\($0.name)=\($0.value)" } }

    @Test func memberEventVariablesAndStdin() {
        let web = handlerMember("web1", "10.0.0.5", tags: ["role": "web", "dc": "lab1"])
        let bare = handlerMember("a", "127.0.0.1")
        let inv = ScriptInvocation(script: "/x.sh", event: .member(.join, [web, bare]), selfMember: me)
        #expect(vars(inv) == [
            "SERF_EVENT=member-join", "SERF_SELF_NAME=node1", "SERF_SELF_ROLE=lb",
            "SERF_TAG_A_B=x", "SERF_TAG_DC_NAME=lab1", "SERF_TAG_ROLE=lb",
        ])
        #expect(inv.stdin == Array("web1\t10.0.0.5\tweb\tdc=lab1,role=web\na\t127.0.0.1\t\t\n".utf8))
    }

    @Test func memberLinesEscapeTabsAndNewlines() {
        let odd = handlerMember("we\tird\nname", "10.0.0.1", tags: ["role": "r\to\nle", "k": "v\tw"])
        #expect(ScriptInvocation.memberLine(odd)
            == "we\\tird\\nname\t10.0.0.1\tr\\to\\nle\tk=v\\tw,role=r\\to\\nle\n")
    }

    @Test func everyMemberEventTypeIsNamed() {
        for type in MemberEventType.allCases {
            let inv = ScriptInvocation(script: "x", event: .member(type, [me]), selfMember: me)
            #expect(inv.variables.first?.value == type.rawValue)
        }
    }

    @Test func userEventVariablesAndPayload() {
        let inv = ScriptInvocation(
            script: "x", event: .user(handlerUserEvent("deploy", "v1.2", ltime: 42)), selfMember: handlerMember("n"))
        #expect(vars(inv) == [
            "SERF_EVENT=user", "SERF_SELF_NAME=n", "SERF_SELF_ROLE=", "SERF_USER_EVENT=deploy", "SERF_USER_LTIME=42",
        ])
        #expect(inv.stdin == Array("v1.2\n".utf8))
    }

    @Test func queryVariablesAndPayload() {
        let q = HandlerQuery(ltime: 7, id: 99, name: "load", payload: Array("a\nb\n".utf8)) { _ in }
        let inv = ScriptInvocation(script: "x", event: .query(q), selfMember: handlerMember("n"))
        #expect(vars(inv).suffix(2) == ["SERF_QUERY_NAME=load", "SERF_QUERY_LTIME=7"])
        #expect(inv.stdin == Array("a\nb\n".utf8))
    }

    @Test func payloadGetsANewlineOnlyWhenNeeded() {
        #expect(ScriptInvocation.payloadStdin([]) == [])
        #expect(ScriptInvocation.payloadStdin(Array("x".utf8)) == Array("x\n".utf8))
        #expect(ScriptInvocation.payloadStdin(Array("x\n".utf8)) == Array("x\n".utf8))
        #expect(ScriptInvocation.payloadStdin([0, 0xff]) == [0, 0xff, 0x0a])
    }

    @Test("tag names are sanitized as Serf does", arguments: [
        ("role", "ROLE"), ("dc-name", "DC_NAME"), ("a.b c", "A_B_C"), ("already_OK_9", "ALREADY_OK_9"),
        ("é", "_"), ("ß", "_"), ("ı", "I"), ("", ""), ("日本", "__"),
    ])
    func tagNames(key: String, expected: String) {
        #expect(ScriptInvocation.sanitizedTagName(key) == expected)
    }

    @Test("addresses print as Go's net.IP does", arguments: [
        ("127.0.0.1", "127.0.0.1"), ("::1", "::1"), ("2001:db8::1", "2001:db8::1"), ("::", "::"),
        ("fe80:0:0:1:0:0:0:1", "fe80:0:0:1::1"), ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("1:0:0:2:0:0:3:4", "1::2:0:0:3:4"),
    ])
    func addresses(host: String, expected: String) throws {
        let address = try #require(Address(host: host, port: 7946))
        #expect(ScriptInvocation.ipString(address) == expected)
    }

    @Test func ourVariablesOverrideTheAgentsEnvironment() {
        let inv = ScriptInvocation(script: "x", event: .user(handlerUserEvent("d", "")), selfMember: handlerMember("n"))
        let env = inv.environment(base: ["PATH=/bin", "SERF_EVENT=stale", "SERF_USER_EVENT=old", "WEIRD", "HOME=/h"])
        #expect(env == [
            "PATH=/bin", "WEIRD", "HOME=/h", "SERF_EVENT=user", "SERF_SELF_NAME=n", "SERF_SELF_ROLE=",
            "SERF_USER_EVENT=d", "SERF_USER_LTIME=1",
        ])
    }

    @Test func tagsThatSanitizeAlikeKeepTheLastValue() {
        let m = handlerMember("n", tags: ["a-b": "1", "a_b": "2"])
        let env = ScriptInvocation(script: "x", event: .member(.join, [m]), selfMember: m).environment(base: [])
        #expect(env.filter { $0.hasPrefix("SERF_TAG_") } == ["SERF_TAG_A_B=2"])
    }

    @Test func ringKeepsTheLastBytes() {
        var ring = OutputRing(capacity: 8)
        ring.write(Array("abc".utf8))
        #expect(ring.bytes == Array("abc".utf8))
        #expect(!ring.isTruncated)
        ring.write(Array("defgh".utf8))
        #expect(ring.bytes == Array("abcdefgh".utf8))
        #expect(!ring.isTruncated)
        ring.write(Array("ij".utf8))
        #expect(ring.bytes == Array("cdefghij".utf8))
        #expect(ring.isTruncated)
        ring.write(Array("0123456789ABCDEFGHIJ".utf8))
        #expect(ring.bytes == Array("CDEFGHIJ".utf8))
        #expect(ring.totalWritten == 30)
        ring.write([])
        #expect(ring.totalWritten == 30)
    }

    @Test func ringMatchesANaiveTailForManyWriteSizes() {
        var ring = OutputRing()
        var all: [UInt8] = []
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<400 {
            let chunk = (0..<Int.random(in: 0...700, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            ring.write(chunk)
            all += chunk
            #expect(ring.bytes == Array(all.suffix(8192)))
        }
        #expect(ring.totalWritten == all.count)
        #expect(ring.capacity == 8192)
    }
}
