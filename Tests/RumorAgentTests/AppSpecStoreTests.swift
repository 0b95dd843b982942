@testable import RumorAgent
import RumorWire
import Testing

/// The agent's side of cluster-wide app specs (docs/membership.md#app-specs): the digest peers compare, and the
/// store file a restarted node resumes from.
@Suite struct AppSpecStoreTests {
    let a = AppRecord(name: "site", ltime: 7, origin: "n1", spec: Array(#"{"docker_image": "x"}"#.utf8))
    let b = AppRecord(name: "api", ltime: 3, origin: "n2", spec: [])
    let c = AppRecord(name: "web", ltime: 9, origin: "n3", spec: Array("{}".utf8), previous: Array("{\"a\": 1}".utf8),
                      rollback: "n1: its containers of generation 8 failed")

    @Test func theDigestIsZeroForNone_theSameForTheSameRecordsInAnyOrder_andChangesWithADeploy() {
        #expect(Agent.digest(of: [AppRecord]()) == "0")
        #expect(Agent.digest(of: [a, b]) == Agent.digest(of: [b, a]))
        #expect(Agent.digest(of: [a, b]) != "0")
        var newer = a
        newer.ltime += 1
        #expect(Agent.digest(of: [newer, b]) != Agent.digest(of: [a, b]))
    }

    @Test func theStoreFileRoundTrips() throws {
        let text = Agent.encodeAppStore([a, b, c])
        #expect(try Set(Agent.decodeAppStore(Array(text.utf8))) == [a, b, c])
        #expect(throws: (any Error).self) { try Agent.decodeAppStore(Array(#"[{"name": "x"}]"#.utf8)) }
    }
}
