import Foundation

/// Reading saved fuzz inputs (`Fixtures/fuzz/<target>/`).
public enum FuzzCorpus {
    /// The regular files at `path` (itself, or the files directly in it), sorted; hidden
    /// files are left out.
    public static func files(at path: String) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return [] }
        guard isDirectory.boolValue else { return [path] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { path + "/" + $0 }
    }

    /// The bytes of the file at `path`, or nil if it cannot be read.
    public static func read(_ path: String) -> [UInt8]? {
        FileManager.default.contents(atPath: path).map { Array($0) }
    }
}
