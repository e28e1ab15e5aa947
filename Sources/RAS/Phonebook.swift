import Foundation
import SystemIO

/// A RAS phonebook (`.pbk`): an INI file with one `[Entry Name]` section per entry.
///
/// Reading keeps everything: comments (`;` or `#` first), blank lines, unknown keys, repeated
/// keys, the order of lines, the line ending (LF or CR LF) and a UTF-8 byte-order mark, so that
/// writing back changes only what was edited. Files must be ASCII or UTF-8 (622 otherwise).
/// See `PHONEBOOK.md` for the keys and the errors.
public struct Phonebook: Sendable, Equatable {
    /// A line ending.
    public enum LineEnding: String, Sendable, Hashable {
        /// `\n` (Unix).
        case lf = "\n"
        /// `\r\n` (Windows).
        case crlf = "\r\n"
    }

    /// Comment and blank lines before the first section.
    public internal(set) var leadingLines: [PhonebookLine]
    /// The entries, in file order.
    public internal(set) var entries: [PhonebookEntry]
    /// The line ending used when writing (taken from the first line of a loaded file).
    public var lineEnding: LineEnding
    /// Whether the file starts with a UTF-8 byte-order mark (kept when writing).
    public var hasByteOrderMark: Bool

    /// An empty phonebook (LF line endings, no byte-order mark).
    public init() {
        leadingLines = []
        entries = []
        lineEnding = .lf
        hasByteOrderMark = false
    }

    /// Parses phonebook text.
    /// - Parameters:
    ///   - text: the phonebook's contents.
    ///   - source: names the file in error details (usually its path).
    /// - Throws: 625 ``RasError/corruptPhonebook`` naming the line and the problem.
    public init(text: String, source: String? = nil) throws(RasError) {
        try self.init(data: Data(text.utf8), source: source)
    }

    /// Parses phonebook bytes.
    /// - Parameters:
    ///   - data: the file's bytes (UTF-8, with or without a byte-order mark).
    ///   - source: names the file in error details (usually its path).
    /// - Throws: 622 ``RasError/cannotLoadPhonebook`` for UTF-16/UTF-32 text, NUL bytes or
    ///   invalid UTF-8; 625 ``RasError/corruptPhonebook`` naming the line and the problem.
    public init(data: Data, source: String? = nil) throws(RasError) {
        self = try PhonebookParser(source: source).parse(Array(data))
    }

    /// The largest phonebook read: 4 MiB.
    public static let maximumFileBytes = SafeFile.defaultReadLimit

    /// Reads and parses the phonebook at `path`.
    ///
    /// The file is opened without blocking and must be a regular file: a FIFO, a device
    /// (`/dev/zero`), a folder or a socket is refused before anything is read. With a
    /// `requester` (the daemon reading on a client's behalf), the file must be readable by it
    /// through its permission bits, and every folder on the way searchable; a link is
    /// resolved first and the file actually opened must be the one checked.
    /// - Throws: 621 ``RasError/cannotOpenPhonebook`` when the file is missing, unreadable,
    ///   not a regular file or larger than ``maximumFileBytes`` (the detail names the path and
    ///   why), and the errors of ``init(data:source:)``.
    public static func load(from path: String, requester: PeerCredentials? = nil) throws(RasError) -> Phonebook {
        try Phonebook(data: Data(contents(of: path, requester: requester)), source: path)
    }

    /// Reads the phonebook at `path` leniently, for listing and dialing: the phonebook with
    /// every entry whose header could be read, and a problem per bad line (naming the entry it
    /// makes unusable, if any). Never write the result back: bad lines are not in it.
    ///
    /// The file is read like ``load(from:requester:)`` reads it: a regular file only, no larger
    /// than ``maximumFileBytes``, and with a `requester`, one that it could read itself.
    /// - Throws: 621 and 622 — a file that cannot be read or split into lines at all.
    static func read(from path: String, requester: PeerCredentials? = nil)
        throws(RasError) -> (phonebook: Phonebook, problems: [PhonebookLineProblem]) {
        try PhonebookParser(source: path).read(contents(of: path, requester: requester))
    }

    /// Reads phonebook bytes leniently, as ``read(from:requester:)`` reads a file's contents:
    /// the phonebook and one 625 error per bad line. For the fuzzers, which must not write
    /// files in their loop.
    /// - Throws: 622 — bytes that cannot be split into lines at all.
    package static func read(bytes: [UInt8]) throws(RasError) -> (phonebook: Phonebook, problems: [RasError]) {
        let (phonebook, problems) = try PhonebookParser(source: nil).read(bytes)
        return (phonebook, problems.map(\.error))
    }

    /// The bytes of the regular file at `path`, read through ``SafeFile``.
    /// - Throws: 621 naming the path and the reason.
    private static func contents(of path: String, requester: PeerCredentials?) throws(RasError) -> [UInt8] {
        do {
            return try SafeFile.readRegularFile(path, maxBytes: maximumFileBytes, requester: requester)
        } catch {
            throw RasError.cannotOpenPhonebook.with(detail: Self.reason(error, path: path))
        }
    }

    // MARK: Entries

    /// The entry names, in file order.
    public var entryNames: [String] { entries.map(\.name) }

    /// Whether an entry named `name` exists (case ignored).
    public func contains(entryNamed name: String) -> Bool { index(of: name) != nil }

    /// The entry named `name` (case ignored).
    /// - Throws: 623 ``RasError/cannotFindPhonebookEntry``.
    public func entry(named name: String) throws(RasError) -> PhonebookEntry {
        guard let index = index(of: name) else { throw Self.missing(name) }
        return entries[index]
    }

    /// Adds `entry` at the end.
    /// - Throws: 123 ``RasError/invalidName`` for a bad name; 183 ``RasError/alreadyExists``
    ///   when an entry with that name (case ignored) exists.
    public mutating func add(_ entry: PhonebookEntry) throws(RasError) {
        try PhonebookEntry.validateName(entry.name)
        if let index = index(of: entry.name) {
            throw RasError.alreadyExists.with(detail: "entry '\(entries[index].name)' already exists")
        }
        if let last = entries.indices.last, entries[last].lines.last?.content != .blank {
            entries[last].lines.append(PhonebookLine(content: .blank, text: ""))
        } else if entries.isEmpty, let last = leadingLines.last, last.content != .blank {
            leadingLines.append(PhonebookLine(content: .blank, text: ""))
        }
        entries.append(entry)
    }

    /// Replaces the entry with the same name (case ignored) in place; a change of case in the
    /// name renames it.
    /// - Throws: 623 ``RasError/cannotFindPhonebookEntry``.
    public mutating func update(_ entry: PhonebookEntry) throws(RasError) {
        guard let index = index(of: entry.name) else { throw Self.missing(entry.name) }
        var replacement = entry
        if replacement.name != entries[index].name {
            replacement.headerText = "[\(replacement.name)]"
        }
        entries[index] = replacement
    }

    /// Removes the entry named `name` (case ignored) with all its lines.
    /// - Throws: 623 ``RasError/cannotFindPhonebookEntry``.
    public mutating func remove(entryNamed name: String) throws(RasError) {
        guard let index = index(of: name) else { throw Self.missing(name) }
        entries.remove(at: index)
    }

    private func index(of name: String) -> Int? {
        entries.firstIndex { PhonebookEntry.namesMatch($0.name, name) }
    }

    private static func missing(_ name: String) -> RasError {
        RasError.cannotFindPhonebookEntry.with(detail: "no entry named '\(name)'")
    }

    // MARK: Writing

    /// The file text: every line followed by ``lineEnding`` (no byte-order mark).
    public var text: String {
        var lines = leadingLines.map(\.text)
        for entry in entries {
            lines.append(entry.headerText)
            lines += entry.lines.map(\.text)
        }
        return lines.map { $0 + lineEnding.rawValue }.joined()
    }

    /// The file bytes: ``text`` in UTF-8, after a byte-order mark when ``hasByteOrderMark``.
    public var data: Data {
        (hasByteOrderMark ? Data([0xEF, 0xBB, 0xBF]) : Data()) + Data(text.utf8)
    }

    /// Writes the phonebook to `path` atomically (a temporary file renamed over the old one),
    /// creating the parent directory when needed. An existing file's permission bits are put
    /// back on the new file right after the rename.
    /// - Throws: 621 ``RasError/cannotOpenPhonebook`` naming the path and the reason.
    public func write(to path: String) throws(RasError) {
        let url = URL(fileURLWithPath: path)
        let fileManager = FileManager.default
        do {
            let permissions = (try? fileManager.attributesOfItem(atPath: path))?[.posixPermissions]
            try fileManager.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: url, options: .atomic)
            if let permissions {
                try fileManager.setAttributes([.posixPermissions: permissions], ofItemAtPath: path)
            }
        } catch {
            throw RasError.cannotOpenPhonebook.with(detail: "cannot write \(path): \(Self.writeReason(error))")
        }
    }

    /// Loads the phonebook at `path`, lets `body` change it, and writes it back atomically.
    /// - Parameters:
    ///   - path: the phonebook file.
    ///   - createIfMissing: start from an empty phonebook when `path` does not exist.
    ///   - body: changes the phonebook.
    /// - Throws: the ``RasError``s of ``load(from:requester:)`` and ``write(to:)``, or whatever `body`
    ///   throws (then nothing is written).
    public static func modify(at path: String, createIfMissing: Bool = false,
                              _ body: (inout Phonebook) throws -> Void) throws {
        var phonebook: Phonebook
        if createIfMissing && !FileManager.default.fileExists(atPath: path) {
            phonebook = Phonebook()
        } else {
            phonebook = try load(from: path)
        }
        try body(&phonebook)
        try phonebook.write(to: path)
    }

    /// Why a phonebook could not be read, naming the path.
    private static func reason(_ error: SystemError, path: String) -> String {
        switch error {
        case .system(_, _, let errno) where errno == .noSuchFileOrDirectory:
            return "\(path): no such file"
        case .system(_, _, let errno) where errno == .permissionDenied:
            return "\(path): permission denied"
        case .system(_, _, let errno) where errno == .isDirectory:
            return "\(path) is a directory, not a phonebook"
        case .notRegularFile(_, let kind):
            return "\(path) is a \(kind), not a phonebook file; it was not read"
        case .tooLarge(_, let limit):
            return "\(path) is larger than \(limit) bytes; it is not a phonebook"
        case .notPermitted(_, let reason):
            return "\(path): permission denied (\(reason))"
        default:
            return error.description
        }
    }

    private static func writeReason(_ error: any Error) -> String {
        if let cocoa = error as? CocoaError {
            switch cocoa.code {
            case .fileReadNoSuchFile, .fileNoSuchFile: return "no such file"
            case .fileReadNoPermission, .fileWriteNoPermission: return "permission denied"
            default: break
            }
        }
        return error.localizedDescription
    }
}

/// A problem on one line of a phonebook, and the entry it makes unusable (if any).
struct PhonebookLineProblem: Sendable {
    /// The 1-based line number.
    let line: Int
    /// The entry the line belongs to or names; `nil` for a line outside every entry, or a
    /// section header that names nothing.
    let entryName: String?
    /// 625, naming the file, the line and the problem.
    let error: RasError
}

/// Turns phonebook bytes into a ``Phonebook``, strictly (the first problem is an error) or
/// leniently (every problem is collected and parsing goes on).
struct PhonebookParser {
    let source: String?

    private func corrupt(_ line: Int, _ what: String) -> RasError {
        RasError.corruptPhonebook.with(detail: (source.map { "\($0), " } ?? "") + "line \(line): \(what)")
    }

    private func unloadable(_ what: String) -> RasError {
        RasError.cannotLoadPhonebook.with(detail: (source.map { "\($0): " } ?? "") + what)
    }

    /// Parses strictly. - Throws: 622 for text that is not UTF-8; 625 for the first bad line.
    func parse(_ bytes: [UInt8]) throws(RasError) -> Phonebook {
        let (phonebook, problems) = try read(bytes)
        if let first = problems.first { throw first.error }
        return phonebook
    }

    /// Parses leniently: a bad line is recorded and skipped. The phonebook has every entry
    /// whose header could be read, in file order; a bad line inside an entry leaves out only
    /// that line (the problem names the entry, so callers treat the entry as unusable); the
    /// lines of a section whose header cannot be read are left out; a duplicate name makes
    /// every section of that name unusable (the problem names it).
    /// - Throws: 622 only: text that is not UTF-8 cannot be split into lines.
    func read(_ bytes: [UInt8]) throws(RasError) -> (phonebook: Phonebook, problems: [PhonebookLineProblem]) {
        var phonebook = Phonebook()
        var problems: [PhonebookLineProblem] = []
        var body = bytes[...]
        if body.starts(with: [0xFF, 0xFE]) || body.starts(with: [0xFE, 0xFF]) {
            throw unloadable("the file is UTF-16 or UTF-32 (it starts with a byte-order mark); save it as UTF-8")
        }
        if body.starts(with: [0xEF, 0xBB, 0xBF]) {
            phonebook.hasByteOrderMark = true
            body = body.dropFirst(3)
        }
        var rawLines = body.split(separator: 0x0A, omittingEmptySubsequences: false)
        if rawLines.last?.isEmpty == true { rawLines.removeLast() }
        if let first = rawLines.first, first.last == 0x0D { phonebook.lineEnding = .crlf }

        enum Section {
            case leading
            case entry(index: Int)
            /// After a header that cannot be read or repeats a name: its lines are skipped.
            case skipped(name: String?)
        }
        var section = Section.leading
        var firstLineOfEntry: [String: Int] = [:]
        for (offset, rawLine) in rawLines.enumerated() {
            let number = offset + 1
            // Every CR before the LF belongs to the line ending: CR CR LF is what a file
            // converted to CR LF twice has, and a line text ending in CR could not be written
            // back (the writer's ending would absorb it).
            var lineBytes = rawLine
            while lineBytes.last == 0x0D { lineBytes = lineBytes.dropLast() }
            if lineBytes.contains(0) {
                throw unloadable("line \(number) contains NUL bytes (is the file UTF-16?); save it as UTF-8")
            }
            guard let text = String(validating: lineBytes, as: UTF8.self) else {
                throw unloadable("line \(number) is not valid UTF-8; save the file as UTF-8")
            }
            let entryName: String? = switch section {
            case .leading: nil
            case .entry(let index): phonebook.entries[index].name
            case .skipped(let name): name
            }
            switch classify(text, number: number, entry: entryName) {
            case .line(let parsed):
                switch section {
                case .leading:
                    if let key = parsed.key {
                        problems.append(.init(line: number, entryName: nil, error: corrupt(
                            number, "key '\(key.rawValue)' comes before the first [entry] section")))
                    } else {
                        phonebook.leadingLines.append(parsed)
                    }
                case .entry(let index):
                    phonebook.entries[index].lines.append(parsed)
                case .skipped:
                    break
                }
            case .badLine(let error):
                problems.append(.init(line: number, entryName: entryName, error: error))
            case .header(let name):
                let folded = name.lowercased()
                if let first = firstLineOfEntry[folded] {
                    problems.append(.init(line: number, entryName: name, error: corrupt(
                        number, "duplicate entry '\(name)' (first defined on line \(first))")))
                    section = .skipped(name: name)
                } else {
                    firstLineOfEntry[folded] = number
                    phonebook.entries.append(PhonebookEntry(name: name, headerText: text, lines: []))
                    section = .entry(index: phonebook.entries.count - 1)
                }
            case .badHeader(let name, let error):
                problems.append(.init(line: number, entryName: name, error: error))
                section = .skipped(name: name)
            }
        }
        return (phonebook, problems)
    }

    private enum Classified {
        case header(String)
        case line(PhonebookLine)
        /// A section header that cannot be read, with the name it seems to give.
        case badHeader(name: String?, RasError)
        case badLine(RasError)
    }

    private func classify(_ text: String, number: Int, entry: String?) -> Classified {
        /// A setting's problem names the entry it is in.
        func inEntry(_ what: String) -> String { entry.map { "entry '\($0)': " + what } ?? what }
        let trimmed = text.trimmingSpaces
        guard let first = trimmed.first else { return .line(PhonebookLine(content: .blank, text: text)) }
        if first == ";" || first == "#" {
            return .line(PhonebookLine(content: .comment(text), text: text))
        }
        if first == "[" {
            let inside = trimmed.dropFirst()
            guard let close = trimmed.lastIndex(of: "]") else {
                let name = inside.trimmingSpaces
                return .badHeader(name: name.isEmpty ? nil : name,
                                  corrupt(number, "missing ']' in section header '\(trimmed)'"))
            }
            let name = trimmed[trimmed.index(after: trimmed.startIndex)..<close].trimmingSpaces
            guard trimmed.index(after: close) == trimmed.endIndex else {
                return .badHeader(name: name.isEmpty ? nil : name,
                                  corrupt(number, "unexpected text after ']' in '\(trimmed)'"))
            }
            guard !name.isEmpty else { return .badHeader(name: nil, corrupt(number, "empty entry name '[]'")) }
            return .header(name)
        }
        guard let equals = trimmed.firstIndex(of: "=") else {
            return .badLine(corrupt(number, inEntry("expected '[Entry]', 'key=value' or a comment, found '\(Self.shortened(trimmed))'")))
        }
        let key = PhonebookKey(rawValue: trimmed[..<equals].trimmingSpaces)
        let value = trimmed[trimmed.index(after: equals)...].trimmingSpaces
        guard !key.rawValue.isEmpty else { return .badLine(corrupt(number, inEntry("missing key before '='"))) }
        if let problem = key.problem(with: value) { return .badLine(corrupt(number, inEntry(problem))) }
        return .line(PhonebookLine(content: .setting(key: key, value: value), text: text))
    }

    private static func shortened(_ text: String) -> String {
        text.count <= 40 ? text : String(text.prefix(40)) + "…"
    }
}
