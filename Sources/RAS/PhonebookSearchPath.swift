import Foundation
import Serial

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
    /// existing default phonebook (user first). No phonebook at all gives an empty list.
    /// `requester`: the user the files are read for (see ``Phonebook/load(from:requester:)``).
    /// - Throws: 621 when `phonebookPath` cannot be read; 622 and 625 for a bad file.
    public func enumerateEntries(phonebookPath: String? = nil, requester: PeerCredentials? = nil) throws(RasError) -> [RasEntryName] {
        var result: [RasEntryName] = []
        for (path, scope) in phonebooks(phonebookPath) {
            let phonebook = try Phonebook.load(from: path, requester: requester)
            result += phonebook.entryNames.map { RasEntryName(name: $0, phonebookPath: path, scope: scope) }
        }
        return result
    }

    /// Finds the entry `name` (case ignored) in `phonebookPath`, or with `nil` in the first
    /// existing default phonebook that has it, reading the files for `requester` (see
    /// ``Phonebook/load(from:requester:)``).
    /// - Throws: 623 ``RasError/cannotFindPhonebookEntry`` naming the files searched; 621, 622
    ///   and 625 for a file that cannot be read.
    public func locateEntry(named name: String, phonebookPath: String? = nil, requester: PeerCredentials? = nil)
        throws(RasError) -> (entry: PhonebookEntry, phonebookPath: String) {
        let searched = phonebooks(phonebookPath)
        for (path, _) in searched {
            let phonebook = try Phonebook.load(from: path, requester: requester)
            if phonebook.contains(entryNamed: name) { return (try phonebook.entry(named: name), path) }
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
