import RumorApps
import RumorSupport
import Testing

@Suite struct AppVersionTests {
    @Test func concurrentDeploysEndWithTheSameWinnerInAnyOrder() {
        let base = AppVersionStore()
        let a = base.deploy(app: "site", specHash: "aaaa", lamport: 7)
        let b = base.deploy(app: "site", specHash: "bbbb", lamport: 7)  // same moment on another node
        let later = base.deploy(app: "site", specHash: "0000", lamport: 8)
        var one = AppVersionStore()
        var two = AppVersionStore()
        _ = one.offer(a)
        #expect(one.offer(b) == .accepted(replaced: a))
        _ = two.offer(b)
        #expect(two.offer(a) == .stale(current: b))  // equal Lamport times: the spec hash decides
        #expect(one == two && one.current("site") == b)
        #expect(one.offer(later) == .accepted(replaced: b))  // a later Lamport time wins whatever its hash
        #expect(one.offer(later) == .known)
    }

    @Test func deploysCountGenerationsAndRememberWhatTheyReplaced() {
        var store = AppVersionStore()
        let v1 = store.deploy(app: "site", specHash: "h1", lamport: 1)
        _ = store.offer(v1)
        let v2 = store.deploy(app: "site", specHash: "h2", lamport: 5)
        _ = store.offer(v2)
        #expect(v1.generation == 1 && v1.previousHash == nil)
        #expect(v2.generation == 2 && v2.previousHash == "h1")
        let back = store.rollback(app: "site", lamport: 9)!
        #expect(back.specHash == "h1" && back.previousHash == "h2" && back.generation == 3)
        #expect(AppVersionStore().rollback(app: "site", lamport: 1) == nil)
    }

    @Test func aTombstoneKeepsALateOldDeployOutUntilANewerDeploy() {
        var store = AppVersionStore()
        let v1 = store.deploy(app: "site", specHash: "h1", lamport: 3)
        _ = store.offer(v1)
        let gone = store.removal(app: "site", lamport: 10)
        _ = store.offer(gone)
        #expect(store.current("site") == nil && store.apps.isEmpty)
        #expect(store.offer(AppVersion(app: "site", generation: 2, lamport: 4, specHash: "late")) == .stale(current: gone))
        let again = store.deploy(app: "site", specHash: "h3", lamport: 11)
        #expect(again.previousHash == nil && again.generation == 3)
        #expect(store.offer(again) == .accepted(replaced: gone))
        store.forgetTombstones(before: 100)
        #expect(store.current("site") == again)  // only tombstones are forgotten
    }

    @Test func antiEntropySendsWhatThePeerLacksOrHasOlder() {
        var mine = AppVersionStore()
        let site = AppVersion(app: "site", generation: 2, lamport: 6, specHash: "s2")
        let shop = AppVersion(app: "shop", generation: 1, lamport: 2, specHash: "p1")
        let old = AppVersion(app: "old", generation: 4, lamport: 9, specHash: "")
        for v in [site, shop, old] { _ = mine.offer(v) }
        let digest = ["site": AppVersion(app: "site", generation: 1, lamport: 3, specHash: "s1"), "shop": shop]
        #expect(mine.newer(than: digest) == [old, site])
        #expect(mine.newer(than: mine.versions).isEmpty)
    }

    @Test func theStoreSurvivesARestartAndBadFilesNameTheEntry() throws {
        var store = AppVersionStore()
        _ = store.offer(AppVersion(app: "site", generation: 2, lamport: UInt64(1) << 60, specHash: "s2", previousHash: "s1"))
        _ = store.offer(AppVersion(app: "gone", generation: 3, lamport: 4, specHash: ""))
        let text = store.json.serialized()
        #expect(try AppVersionStore(json: JSON.parse(text), file: "apps.json") == store)
        #expect {
            try AppVersionStore(json: JSON.parse(#"{"apps": [{"app": "site", "generation": 1, "lamport": 5, "spec": "x"}]}"#), file: "apps.json")
        } throws: { "\($0)" == "apps.json: apps[0].lamport: expected a Lamport time as a decimal string" }
        #expect {
            try AppVersionStore(json: JSON.parse(#"{"apps": {}}"#), file: "apps.json")
        } throws: { "\($0)" == "apps.json: apps: expected an array of versions" }
    }

    @Test func specHashNamesTheBody() {
        #expect(AppVersion.hash(ofSpec: #"{"docker_image": "a"}"#).count == 16)
        #expect(AppVersion.hash(ofSpec: #"{"docker_image": "a"}"#) != AppVersion.hash(ofSpec: #"{"docker_image": "b"}"#))
    }
}
