package runbooks

// KindFence makes sure the domains of a lost site cannot come back beside
// their copies at the other site: where the site answers, each is forced
// off and its autostart turned off on every host; where it does not, the
// operator states how the site is isolated (power cut, network cut, storage
// fenced), and that statement is recorded.
const KindFence Kind = "fence"

func init() {
	spec := powerKind(KindFence, "Fence domains of a lost site: force them off and turn their autostart off on every host; when the site does not answer, the operator states how it is isolated (recorded).",
		"forces domains off and turns their autostart off",
		Precondition{After: "shutoff", Soft: true})
	spec.Describe = func(st *Step) string { return "fence " + stepTargetText(st) + " (off, autostart off, on every host)" }
	spec.Details = func(st *Step) [][2]string {
		return [][2]string{
			{"fence", stepTargetText(st) + ": forced off and autostart off on every host of the site"},
			{"if down", "the site does not answer: the operator states how it is isolated (recorded)"},
		}
	}
	RegisterKind(spec)
}
