import Foundation
import FuzzTargets
import Testing

/// The package root and the saved inputs (`Fixtures/fuzz/<target>/`).
enum FuzzFixtures {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func folder(_ target: FuzzTarget) -> String {
        root.appendingPathComponent("Fixtures/fuzz/\(target.rawValue)").path
    }

    static func input(_ target: FuzzTarget, _ name: String) throws -> [UInt8] {
        try #require(FuzzCorpus.read(folder(target) + "/" + name), "Fixtures/fuzz/\(target.rawValue)/\(name) is missing")
    }
}

/// Every saved input, seeds and regressions, replayed in-process through its target: a
/// violation is a test failure naming the file (a crash is a crash, as under libFuzzer).
@Suite("Fuzz corpus")
struct CorpusTests {
    @Test("every saved input passes its target", arguments: FuzzTarget.allCases)
    func replay(target: FuzzTarget) throws {
        let files = FuzzCorpus.files(at: FuzzFixtures.folder(target))
        #expect(files.count >= 3, "Fixtures/fuzz/\(target.rawValue) should hold seed inputs")
        for file in files {
            let input = try #require(FuzzCorpus.read(file))
            let violations = target.run(input)
            #expect(violations.isEmpty, "\(file): \(violations.joined(separator: "; "))")
        }
    }

    @Test("a refused input or an empty one is not a violation")
    func refusalsAreNotViolations() {
        // "ATDT…" is refused as a dial string: that is the validator working, not a violation…
        #expect(FuzzTarget.dialString.run(Array("ATDT5551234".utf8)).isEmpty)
        // …and an empty input is fine for every target.
        for target in FuzzTarget.allCases { #expect(target.run([]).isEmpty, "\(target)") }
    }
}
