import Foundation

/// The web dashboard's static files (HTML, CSS and JavaScript modules, no build step), shipped
/// in project-manager's resource bundle and served by it under `/ui/`.
public enum DashboardFiles {
    /// The folder holding `index.html` in the resource bundle built beside the executable.
    public static var bundledFolder: String? {
        Bundle.module.url(forResource: "ui", withExtension: nil)?.path
    }
}
