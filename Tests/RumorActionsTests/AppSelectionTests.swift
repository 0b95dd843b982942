import RumorCore
import RumorSupport
import RumorWire
import Testing
@testable import RumorActions

/// `app: NAME`: one backend per container a member advertises in its `app:NAME` tag.
@Suite struct AppSelectionTests {
    func member(_ name: String, _ ip: String, _ tags: [String: String], _ status: MemberStatus = .alive) -> Member {
        Member(name: name, address: Address(host: ip, port: 7946)!, tags: tags, status: status, vsn: [])
    }

    @Test func eachAdvertisedContainerIsOneServerAndAFailedNodesStay() throws {
        var config = HAProxyActionConfiguration()
        config.app = "site"
        config.selector = [:]
        let selector = try MemberSelector(configuration: config)
        let (backends, rejected) = selector.select([
            member("w1", "10.0.0.1", ["app:site": "1/8081 2/8082"]),
            member("w2", "10.0.0.2", ["app:site": "1/172.20.0.5:80 x/1"]),
            member("w3", "10.0.0.3", ["app:other": "1/9000"]),
            member("w4", "10.0.0.4", ["app:site": "1/8081"], .failed),
            member("w5", "10.0.0.5", ["app:site": "1/8081"], .left),
        ])
        // A failed node's containers may well still serve (only its agent died): kept, and HAProxy checks them.
        #expect(backends.map { "\($0.name) \($0.host):\($0.port)" } == [
            "w1-1 10.0.0.1:8081", "w1-2 10.0.0.1:8082", "w2-1 172.20.0.5:80", "w4-1 10.0.0.4:8081",
        ])
        #expect(rejected.map(\.name) == ["w2"])
    }

    @Test func theConfigKeyClearsTheDefaultSelector() throws {
        let config = try HAProxyActionConfiguration(json: .object([("app", .string("site"))]))
        #expect(config.app == "site" && config.selector.isEmpty)
    }
}
