import FlukeCLI

@main
struct FlukeMain {
    static func main() async {
        await Fluke.main()
    }
}
