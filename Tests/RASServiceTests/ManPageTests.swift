import Foundation
import Testing

/// The manual pages `dist/make-man.sh` generates from the argument parsers (`.ci/run` makes
/// them before the tests): each tool's page is there, in its section, and names every
/// option its `--help` lists.
@Suite struct ManPageTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/man")

    @Test(arguments: [("rasdial", 1), ("rasmand", 8), ("fakemodem", 1)])
    func pageNamesEveryOption(tool: String, section: Int) async throws {
        let page = Self.folder.appendingPathComponent("\(tool).\(section)").path
        guard FileManager.default.fileExists(atPath: page) else {
            print("skipped the \(tool)(\(section)) page: \(page) is not generated (run dist/make-man.sh; .ci/run does)")
            return
        }
        let text = try String(contentsOfFile: page, encoding: .utf8)
        #expect(text.contains(".Dt \(tool.uppercased()) \(section)"))
        let help = Process()
        help.executableURL = try Binaries.url(tool)
        help.arguments = ["--help"]
        let pipe = Pipe()
        help.standardOutput = pipe
        try help.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        help.waitUntilExit()
        // The option lines of --help: "  --socket <path>", "  -h, --help".
        let options = Set(output.split(separator: "\n").compactMap { line in
            line.firstMatch(of: /^\s+(?:-\w, )?--([a-z][a-z0-9-]+)/).map { String($0.output.1) }
        })
            .subtracting(["help", "experimental-dump-help"])
        #expect(options.count > 5, "\(output)")
        for option in options.sorted() {
            #expect(text.contains("Fl -\(option)"), "the \(tool) page names --\(option)")
        }
    }
}
