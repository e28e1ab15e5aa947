import Foundation
import SystemIO

/// One entry as `RasEnumEntries` lists it (`RASENTRYNAME`).
public struct RasEntryName: Sendable, Hashable, Codable {
    /// The entry name.
    public var name: String
    /// The phonebook file that holds it.
    public var phonebookPath: String
    /// Whose phonebook it is (`REN_User` or `REN_AllUsers`).
    public var scope: PhonebookScope

    /// Makes a record.
    public init(name: String, phonebookPath: String, scope: PhonebookScope) {
        self.name = name
        self.phonebookPath = phonebookPath
        self.scope = scope
    }
}

/// Something in a phonebook that listing and dialing step around: a bad entry, a bad line
/// outside every entry, or a default phonebook that cannot be read at all.
///
/// JSON shape: `{"phonebookPath":"…","line":7,"name":"Work","error":{"code":625,…}}` —
/// `line` is absent for a whole file (621, 622), `name` when the problem belongs to no entry.
public struct RasPhonebookProblem: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The phonebook file.
    public var phonebookPath: String
    /// The 1-based line, or `nil` when the whole file is the problem.
    public var line: Int?
    /// The entry the problem makes unusable (dialing it fails with ``error``), or `nil`.
    public var name: String?
    /// 625 for a line (its detail names the file, the line and what is wrong), 621 or 622
    /// for a file.
    public var error: RasError

    /// Makes a record.
    public init(phonebookPath: String, line: Int?, name: String?, error: RasError) {
        self.phonebookPath = phonebookPath
        self.line = line
        self.name = name
        self.error = error
    }

    /// The error with its detail, e.g. `error 625: The phonebook file is corrupt. (/p.pbk, line 7: …)`.
    public var description: String { error.description }
}

/// What `RasEnumEntries` found: the usable entries, and a problem for every entry or line
/// that could not be read.
public struct RasEntryListing: Sendable, Hashable, Codable {
    /// The entries that can be dialed, in search order and file order.
    public var entries: [RasEntryName]
    /// The bad entries, bad lines and unreadable default phonebooks, in the same order.
    public var problems: [RasPhonebookProblem]

    /// Makes a listing.
    public init(entries: [RasEntryName], problems: [RasPhonebookProblem] = []) {
        self.entries = entries
        self.problems = problems
    }
}

/// Whose phonebook a file is (`RASENTRYNAME.dwFlags`); encoded as `"user"` or `"allUsers"`.
public enum PhonebookScope: String, Sendable, Hashable, Codable {
    /// The user's own phonebook (`REN_User`, 0).
    case user
    /// The phonebook for all users (`REN_AllUsers`, 1).
    case allUsers
}

/// Where the default phonebooks are, with the environment and the file check injectable for tests.
///
/// The user's phonebook is `$XDG_CONFIG_HOME/swift-ras/rasphone.pbk`, with `XDG_CONFIG_HOME`
/// defaulting to `$HOME/.config` (a relative `XDG_CONFIG_HOME` is ignored, as the XDG spec
/// says); the all-users phonebook is ``systemPhonebookPath``. The user's comes first.
public struct PhonebookSearchPath: Sendable {
    /// The all-users phonebook: `/etc/swift-ras/rasphone.pbk`.
    public static let defaultSystemPhonebookPath = "/etc/swift-ras/rasphone.pbk"

    /// The environment variables used (`XDG_CONFIG_HOME`, `HOME`).
    public var environment: [String: String]
    /// Whether a file exists at a path.
    public var fileExists: @Sendable (String) -> Bool
    /// The all-users phonebook path (tests point it into a temporary directory).
    public var systemPhonebookPath: String

    /// Makes a search path; by default from the process environment and the real file system.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment,
                fileExists: @escaping @Sendable (String) -> Bool = { FileManager.default.fileExists(atPath: $0) },
                systemPhonebookPath: String = PhonebookSearchPath.defaultSystemPhonebookPath) {
        self.environment = environment
        self.fileExists = fileExists
        self.systemPhonebookPath = systemPhonebookPath
    }

    /// The user's phonebook path, or `nil` when neither `XDG_CONFIG_HOME` nor `HOME` is usable.
    public var userPhonebookPath: String? {
        if let xdg = environment["XDG_CONFIG_HOME"], xdg.hasPrefix("/") {
            return Self.join(xdg, "swift-ras/rasphone.pbk")
        }
        if let home = environment["HOME"], home.hasPrefix("/") {
            return Self.join(home, ".config/swift-ras/rasphone.pbk")
        }
        return nil
    }

    /// Every candidate in search order (user first), whether or not it exists.
    public var candidates: [(path: String, scope: PhonebookScope)] {
        (userPhonebookPath.map { [($0, .user)] } ?? []) + [(systemPhonebookPath, .allUsers)]
    }

    /// The candidates that exist, in search order.
    public var existingPhonebooks: [(path: String, scope: PhonebookScope)] {
        candidates.filter { fileExists($0.path) }
    }

    /// The first existing phonebook, or `nil` when there is none.
    public var defaultPhonebookPath: String? { existingPhonebooks.first?.path }

    /// Lists entries (`RasEnumEntries`): those of `phonebookPath`, or with `nil` those of every
    /// existing default phonebook (user first), with a problem for each entry or line that
    /// cannot be read. One bad entry does not hide the others: an entry with a bad line (or a
    /// name given twice) is left out of ``RasEntryListing/entries`` and reported, as is a bad
    /// line outside every entry, or a default phonebook that cannot be read at all.
    /// `requester`: the user a named `phonebookPath` is read for (see ``Phonebook/load(from:requester:)``);
    /// the default phonebooks are this process's own and are read as this process.
    /// - Throws: 621 or 622 only when `phonebookPath` is given and that file cannot be read
    ///   at all (there is nothing to list).
    public func entryListing(phonebookPath: String? = nil, requester: PeerCredentials? = nil) throws(RasError) -> RasEntryListing {
        var listing = RasEntryListing(entries: [])
        for (path, scope) in phonebooks(phonebookPath) {
            let read: (phonebook: Phonebook, problems: [PhonebookLineProblem])
            do throws(RasError) {
                read = try Phonebook.read(from: path, requester: phonebookPath == nil ? nil : requester)
            } catch {
                if phonebookPath != nil { throw error }
                listing.problems.append(RasPhonebookProblem(phonebookPath: path, line: nil, name: nil, error: error))
                continue
            }
            let unusable = Set(read.problems.compactMap { $0.entryName?.lowercased() })
            listing.entries += read.phonebook.entryNames.filter { !unusable.contains($0.lowercased()) }
                .map { RasEntryName(name: $0, phonebookPath: path, scope: scope) }
            listing.problems += read.problems.map {
                RasPhonebookProblem(phonebookPath: path, line: $0.line, name: $0.entryName, error: $0.error)
            }
        }
        return listing
    }

    /// The usable entries of ``entryListing(phonebookPath:requester:)``; use that to learn what
    /// was left out. `requester`: the user the files are read for.
    /// - Throws: 621 or 622 when `phonebookPath` is given and cannot be read at all.
    public func enumerateEntries(phonebookPath: String? = nil, requester: PeerCredentials? = nil) throws(RasError) -> [RasEntryName] {
        try entryListing(phonebookPath: phonebookPath, requester: requester).entries
    }

    /// Finds the entry `name` (case ignored) in `phonebookPath`, or with `nil` in the first
    /// existing default phonebook that has it, reading a named `phonebookPath` for `requester`
    /// (see ``Phonebook/load(from:requester:)``; the default phonebooks are read as this process). Other entries' problems do not matter; an
    /// entry that has one is refused with it, and hides an entry of the same name further on.
    /// - Throws: 623 ``RasError/cannotFindPhonebookEntry`` naming the files searched; 625 for
    ///   an entry with a bad line (the first one); 621 and 622 for a file that cannot be read.
    public func locateEntry(named name: String, phonebookPath: String? = nil, requester: PeerCredentials? = nil)
        throws(RasError) -> (entry: PhonebookEntry, phonebookPath: String) {
        let searched = phonebooks(phonebookPath)
        for (path, _) in searched {
            let read = try Phonebook.read(from: path, requester: phonebookPath == nil ? nil : requester)
            if let problem = read.problems.first(where: { $0.entryName.map { PhonebookEntry.namesMatch($0, name) } ?? false }) {
                throw problem.error
            }
            if read.phonebook.contains(entryNamed: name) { return (try read.phonebook.entry(named: name), path) }
        }
        let places = searched.isEmpty
            ? "no phonebook exists (looked for " + candidates.map(\.path).joined(separator: ", ") + ")"
            : "searched " + searched.map(\.path).joined(separator: ", ")
        throw RasError.cannotFindPhonebookEntry.with(detail: "no entry named '\(name)'; \(places)")
    }

    private func phonebooks(_ explicit: String?) -> [(path: String, scope: PhonebookScope)] {
        guard let explicit else { return existingPhonebooks }
        return [(explicit, explicit == systemPhonebookPath ? .allUsers : .user)]
    }

    private static func join(_ directory: String, _ tail: String) -> String {
        directory.hasSuffix("/") ? directory + tail : directory + "/" + tail
    }
}
