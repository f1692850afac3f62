package report

import "time"

// Sample is a fixed, realistic report: the annual PRA drill of an ERP, on
// simulated sites, with a fixed clock. Tests, goldens and the demo use it.
// Its chain-head signature is a real ed25519 SSH signature, so the
// re-verification recipe it prints works with ssh-keygen alone.
func Sample() *Doc {
	return &Doc{
		GeneratedAt:    sampleDay(15, 30, 0),
		Identification: sampleIdentification(),
		People:         samplePeople(),
		Readiness:      sampleReadiness(),
		Accepted:       sampleAccepted(),
		Timeline:       sampleTimeline(),
		Gates:          sampleGates(),
		Objectives:     sampleObjectives(),
		Validation:     sampleValidation(),
		Deviations:     sampleDeviations(),
		FinalState:     sampleFinalState(),
		Findings:       sampleFindings(),
		Restores:       sampleRestores(),
		Integrity:      sampleIntegrity(),
	}
}

// sampleDay is a moment on the sample run's day.
func sampleDay(h, m, s int) time.Time {
	return time.Date(2026, time.November, 30, h, m, s, 0, time.UTC)
}

// sampleMin is m minutes and s seconds.
func sampleMin(m, s int) time.Duration {
	return time.Duration(m)*time.Minute + time.Duration(s)*time.Second
}

// The sample's people and sites.
const (
	sampleClaire = "Claire Martin"
	sampleJean   = "Jean Dupont"
	sampleSophie = "Sophie Bernard"
	samplePN     = "paris-nord"
	sampleLS     = "lyon-sud"
)

// sampleStep is one step of the sample's timeline.
func sampleStep(order int, id, title, kind, site, host, action string, from, to time.Time, result string, targets ...string) Step {
	s := Step{Order: order, ID: id, Title: title, Kind: kind, Site: site, Host: host, Action: action,
		Started: from, Ended: to, Duration: to.Sub(from), Result: result, Targets: targets}
	if s.Targets == nil {
		s.Targets = []string{}
	}
	s.ForcedShutdowns = []string{}
	return s
}

// sampleTimeline is the drill's steps.
func sampleTimeline() []Step {
	timeline := []Step{
		sampleStep(1, "preflight", "Contrôle des deux sites", "check", "", "", "inventory paris-nord and lyon-sud; replication lag of erp-db; backup catalogue", sampleDay(14, 5, 0), sampleDay(14, 5, 42), "succeeded", "erp-web", "erp-app", "erp-db", "erp-archives"),
		sampleStep(2, "open-window", "Ouverture de la fenêtre de changement", "confirm", "", "", "gate: confirm", sampleDay(14, 5, 42), sampleDay(14, 8, 10), "succeeded"),
		sampleStep(3, "freeze-batch", "Gel des traitements batch", "exec", samplePN, "kvm-pn-01", "exec on erp-app: systemctl stop erp-batch.timer erp-batch.service", sampleDay(14, 8, 10), sampleDay(14, 9, 2), "succeeded", "erp-app"),
		sampleStep(4, "stop-primary", "Arrêt du site nominal", "shutdown", samplePN, "kvm-pn-01, kvm-pn-02", "shutdown erp-web, erp-app, erp-db (timeout 120 s, then destroy)", sampleDay(14, 9, 2), sampleDay(14, 12, 0), "succeeded", "erp-web", "erp-app", "erp-db"),
		sampleStep(5, "approve-failover", "Décision de bascule (deux personnes)", "approval", "", "", "gate: approval by 2, typed BASCULE LYON-SUD", sampleDay(14, 12, 0), sampleDay(14, 19, 35), "succeeded"),
		sampleStep(6, "promote-db", "Promotion de la base secondaire", "exec", sampleLS, "kvm-ls-01", "exec on erp-db: /usr/local/sbin/erp-db-promote --standby lyon-sud", sampleDay(14, 19, 35), sampleDay(14, 24, 5), "succeeded", "erp-db"),
		sampleStep(7, "restore-archives", "Restauration des archives (sauvegarde chiffrée)", "restore", sampleLS, "kvm-ls-02", "restore erp-archives from bk-20261130-0200-erp-archives (age-encrypted)", sampleDay(14, 24, 5), sampleDay(14, 36, 50), "succeeded", "erp-archives"),
		sampleStep(8, "start-secondary", "Démarrage du site de secours", "start", sampleLS, "kvm-ls-01, kvm-ls-02", "start erp-app, erp-web, erp-archives; wait for running", sampleDay(14, 36, 50), sampleDay(14, 41, 20), "succeeded", "erp-app", "erp-web", "erp-archives"),
		sampleStep(9, "smoke-test", "Tests de bon fonctionnement", "exec", sampleLS, "kvm-ls-01", "exec on erp-web: /usr/local/bin/erp-smoke --url https://erp.interne.example/ --login test-pra", sampleDay(14, 41, 20), sampleDay(14, 43, 5), "succeeded", "erp-web"),
		sampleStep(10, "dns-switch", "Bascule DNS", "manual", "", "", "manual checklist (3 items)", sampleDay(14, 43, 5), sampleDay(14, 51, 40), "succeeded"),
		sampleStep(11, "reverse-replication", "Réplication inverse", "exec", samplePN, "kvm-pn-02", "exec on erp-db: /usr/local/sbin/erp-db-replicate --from lyon-sud --to paris-nord", sampleDay(14, 51, 40), sampleDay(14, 51, 40), "skipped", "erp-db"),
		sampleStep(12, "close-window", "Clôture de la fenêtre de changement", "confirm", "", "", "gate: confirm", sampleDay(14, 51, 40), sampleDay(14, 53, 0), "succeeded"),
	}
	timeline[3].ForcedShutdowns = []string{"erp-db"}
	timeline[3].RTOStart = true
	timeline[5].Retries = 1
	timeline[8].RTOStop = true
	timeline[10].Reason = "réplication inverse reportée : la base de paris-nord reste arrêtée pour l'analyse de l'arrêt forcé (décision de Jean Dupont)"
	return timeline
}

// sampleIdentification is the run, its runbook and its scope.
func sampleIdentification() Identification {
	return Identification{
		RunID:          42,
		Runbook:        "erp-bascule-annuelle",
		Title:          "Exercice annuel PRA — ERP financier",
		RunbookVersion: "2026.3",
		RunbookFile:    "runbooks/erp-bascule-annuelle.yaml",
		RunbookSHA256:  "5d41c3f09a8be1e8f4b1c2d7a6e9f0b3c4d5e6f708192a3b4c5d6e7f8091a2b3",
		RepliVersion:   "0.9.0",
		Plan:           "PRA",
		Mode:           "switchover",
		Simulated:      true,
		Started:        sampleDay(14, 5, 0),
		Ended:          sampleDay(14, 53, 0),
		Outcome:        "succeeded",
		ConsoleHost:    "bastion-pra-01",
		SSHClient:      "10.20.4.17",
		Sites: []Site{
			{Name: samplePN, Role: "primary", URI: "sim://paris-nord", Simulated: true},
			{Name: sampleLS, Role: "secondary", URI: "sim://lyon-sud", Simulated: true},
		},
		Hosts:     []string{"kvm-pn-01", "kvm-pn-02", "kvm-ls-01", "kvm-ls-02"},
		Domains:   []string{"erp-web", "erp-app", "erp-db", "erp-archives"},
		RTOTarget: 2 * time.Hour,
		RPOTarget: 15 * time.Minute,
	}
}

// samplePeople is the operator, approvers and observers.
func samplePeople() People {
	return People{
		Operator: Person{Name: sampleClaire, Role: "Responsable d'exploitation", Host: "bastion-pra-01", SSHClient: "10.20.4.17"},
		Approvers: []Approver{
			{Name: sampleClaire, Role: "Responsable d'exploitation", Step: "approve-failover", At: sampleDay(14, 13, 10), Signed: true, Key: "SHA256:e7MgFFrUb5CJg4s/IBo/aCWvY2uEMr9Xdj+I447Ru+E"},
			{Name: sampleJean, Role: "RSSI", Step: "approve-failover", At: sampleDay(14, 19, 35), Signed: false},
		},
		Observers: []Person{
			{Name: "Nathalie Roux", Role: "Auditrice (cabinet externe)", Host: "bastion-pra-01", SSHClient: "10.20.9.40"},
			{Name: "Paul Girard", Role: "Délégué à la protection des données"},
		},
	}
}

// sampleReadiness is both sites before the run.
func sampleReadiness() Inventory {
	return Inventory{
		At: sampleDay(14, 5, 0),
		Sites: []SiteInventory{
			{Site: samplePN, Role: "primary", Reachable: true, Domains: []DomainState{
				{Name: "erp-web", Host: "kvm-pn-01", State: "running"},
				{Name: "erp-app", Host: "kvm-pn-01", State: "running"},
				{Name: "erp-db", Host: "kvm-pn-02", State: "running", Detail: "réplication vers lyon-sud, retard 95 s"},
				{Name: "erp-archives", Host: "kvm-pn-02", State: "running"},
			}},
			{Site: sampleLS, Role: "secondary", Reachable: true, Domains: []DomainState{
				{Name: "erp-web", Host: "kvm-ls-01", State: "shut off"},
				{Name: "erp-app", Host: "kvm-ls-01", State: "shut off"},
				{Name: "erp-db", Host: "kvm-ls-01", State: "running", Detail: "secours, rejeu en cours"},
				{Name: "erp-archives", Host: "kvm-ls-02", State: "shut off", Detail: "pas de disque : restauré depuis la sauvegarde"},
			}},
		},
	}
}

// sampleAccepted is the readiness findings accepted to go on.
func sampleAccepted() []Acceptance {
	return []Acceptance{
		{Severity: "warning", Check: "replication-lag", Message: "erp-db replication lag 95 s exceeds 60 s", By: sampleClaire, At: sampleDay(14, 5, 30), Reason: "charge de fin de mois ; le retard se résorbe, contrôlé à nouveau avant la bascule"},
		{Severity: "blocker", Check: "host-memory", Message: "kvm-ls-02: 91 % memory in use (blocker at 90 %)", By: sampleJean, At: sampleDay(14, 5, 38), Reason: "machine de test arrêtée pendant l'exercice ; libère 24 Gio avant le démarrage"},
	}
}

// sampleGates is every gate and who answered it.
func sampleGates() []Gate {
	return []Gate{
		{Step: "open-window", Kind: "confirm", Prompt: "Confirmez l'ouverture de la fenêtre de changement CAB-2026-114.", Opened: sampleDay(14, 5, 42), Closed: sampleDay(14, 8, 10), Wait: sampleMin(2, 28), Required: 1,
			Decisions: []Decision{{By: sampleClaire, At: sampleDay(14, 8, 10), Approved: true}}},
		{Step: "approve-failover", Kind: "approval", Prompt: "Bascule de l'ERP vers lyon-sud : tapez BASCULE LYON-SUD pour approuver.", Opened: sampleDay(14, 12, 0), Closed: sampleDay(14, 19, 35), Wait: sampleMin(7, 35), Required: 2,
			Decisions: []Decision{
				{By: sampleClaire, At: sampleDay(14, 13, 10), Approved: true, Typed: "BASCULE LYON-SUD", Signed: true},
				{By: sampleJean, At: sampleDay(14, 19, 35), Approved: true, Typed: "BASCULE LYON-SUD"},
			}},
		{Step: "promote-db", Kind: "after_failure", Prompt: "promote-db failed: pg_ctl promote: server did not promote in time. Retry, skip or abort?", Opened: sampleDay(14, 21, 10), Closed: sampleDay(14, 22, 15), Wait: sampleMin(1, 5), Required: 1,
			Decisions: []Decision{{By: sampleClaire, At: sampleDay(14, 22, 15), Approved: true, Choice: "retry"}}},
		{Step: "dns-switch", Kind: "checklist", Prompt: "Basculez l'enregistrement DNS erp.interne.example vers lyon-sud.", Opened: sampleDay(14, 43, 5), Closed: sampleDay(14, 51, 40), Wait: sampleMin(8, 35), Required: 1,
			Decisions: []Decision{{By: sampleClaire, At: sampleDay(14, 51, 40), Approved: true}},
			Checklist: []Tick{
				{Item: "Enregistrement A erp.interne.example → 10.60.1.20", By: sampleClaire, At: sampleDay(14, 46, 12)},
				{Item: "TTL ramené à 60 s vérifié", By: sampleClaire, At: sampleDay(14, 48, 3)},
				{Item: "Résolution contrôlée depuis deux postes clients", By: sampleClaire, At: sampleDay(14, 51, 31)},
			}},
		{Step: "close-window", Kind: "confirm", Prompt: "Clôturez la fenêtre CAB-2026-114 ?", Opened: sampleDay(14, 51, 40), Closed: sampleDay(14, 53, 0), Wait: sampleMin(1, 20), Required: 1,
			Decisions: []Decision{{By: sampleClaire, At: sampleDay(14, 53, 0), Approved: true}}},
	}
}

// sampleObjectives is RTO and RPO as measured.
func sampleObjectives() Objectives {
	return Objectives{
		RTO: Measure{Target: 2 * time.Hour, Achieved: sampleDay(14, 43, 5).Sub(sampleDay(14, 9, 2)), Measured: true,
			From: sampleDay(14, 9, 2), To: sampleDay(14, 43, 5), FromStep: "stop-primary", ToStep: "smoke-test",
			Basis: "de l'arrêt du site nominal à la fin des tests de bon fonctionnement sur lyon-sud"},
		RPO: Measure{Target: 15 * time.Minute, Achieved: sampleDay(14, 9, 2).Sub(sampleDay(14, 6, 50)), Measured: true,
			From: sampleDay(14, 6, 50), To: sampleDay(14, 9, 2),
			Basis: "dernier segment WAL d'erp-db rejoué sur lyon-sud avant l'arrêt du site nominal"},
	}
}

// sampleValidation is the checks run during the drill.
func sampleValidation() []Check {
	return []Check{
		{Step: "preflight", Name: "inventaire des deux sites", At: sampleDay(14, 5, 42), Site: samplePN, ExitCode: -1, OK: true,
			Output: "paris-nord: 4 domains running\nlyon-sud: erp-db running (standby), 3 domains shut off"},
		{Step: "promote-db", Name: "promotion d'erp-db (tentative 2)", At: sampleDay(14, 24, 5), Site: sampleLS, Host: "kvm-ls-01",
			Command: "/usr/local/sbin/erp-db-promote --standby lyon-sud", ExitCode: 0, OK: true,
			Output: "waiting for server to promote.... done\nserver promoted\ntimeline 7 → 8"},
		{Step: "restore-archives", Name: "empreinte de l'archive restaurée", At: sampleDay(14, 36, 40), Site: sampleLS, Host: "kvm-ls-02",
			Command: "sha256sum -c bk-20261130-0200-erp-archives.sha256", ExitCode: 0, OK: true,
			Output: "bk-20261130-0200-erp-archives.qcow2: OK"},
		{Step: "smoke-test", Name: "tests de bon fonctionnement de l'ERP", At: sampleDay(14, 43, 5), Site: sampleLS, Host: "kvm-ls-01",
			Command: "/usr/local/bin/erp-smoke --url https://erp.interne.example/ --login test-pra", ExitCode: 0, OK: true,
			Output: "GET / 200 (212 ms)\nPOST /login 302 (388 ms)\nGET /compta/journal?exercice=2026 200 (941 ms)\n3/3 checks passed"},
	}
}

// sampleDeviations is what departed from the runbook.
func sampleDeviations() []Deviation {
	return []Deviation{
		{Kind: "override", Step: "preflight", At: sampleDay(14, 5, 38), By: sampleJean, Detail: "blocage host-memory levé : kvm-ls-02 à 91 % de mémoire"},
		{Kind: "forced_shutdown", Step: "stop-primary", At: sampleDay(14, 11, 55), Detail: "erp-db ne s'est pas arrêtée en 120 s : arrêt forcé (destroy)"},
		{Kind: "error", Step: "promote-db", At: sampleDay(14, 21, 10), Detail: "pg_ctl promote: server did not promote in time (exit 1)"},
		{Kind: "retry", Step: "promote-db", At: sampleDay(14, 22, 15), By: sampleClaire, Detail: "reprise décidée après 1 min 05 s ; deuxième tentative réussie"},
		{Kind: "skipped", Step: "reverse-replication", At: sampleDay(14, 51, 40), By: sampleJean, Detail: "réplication inverse reportée : la base de paris-nord reste arrêtée pour l'analyse de l'arrêt forcé"},
	}
}

// sampleFinalState is both sites after the run.
func sampleFinalState() Inventory {
	return Inventory{
		At: sampleDay(14, 53, 0),
		Sites: []SiteInventory{
			{Site: samplePN, Role: "primary", Reachable: true, Domains: []DomainState{
				{Name: "erp-web", Host: "kvm-pn-01", State: "shut off"},
				{Name: "erp-app", Host: "kvm-pn-01", State: "shut off"},
				{Name: "erp-db", Host: "kvm-pn-02", State: "shut off", Detail: "arrêt forcé après 120 s"},
				{Name: "erp-archives", Host: "kvm-pn-02", State: "running", Detail: "archive en lecture seule, hors bascule"},
			}},
			{Site: sampleLS, Role: "secondary", Reachable: true, Domains: []DomainState{
				{Name: "erp-web", Host: "kvm-ls-01", State: "running"},
				{Name: "erp-app", Host: "kvm-ls-01", State: "running"},
				{Name: "erp-db", Host: "kvm-ls-01", State: "running", Detail: "primaire, timeline 8"},
				{Name: "erp-archives", Host: "kvm-ls-02", State: "running"},
			}},
		},
	}
}

// sampleFindings is the findings and their corrective actions.
func sampleFindings() []Finding {
	return []Finding{
		{ID: "F-1", At: sampleDay(14, 12, 30), By: sampleClaire, Step: "stop-primary",
			Text:   "erp-db ne s'arrête pas proprement en 120 s : arrêt forcé (risque de récupération longue au démarrage).",
			Action: "Passer l'arrêt PostgreSQL en mode fast et porter le délai du runbook à 300 s ; rejouer en pré-production.",
			Owner:  "Marc Leroy (équipe DBA)", Due: time.Date(2027, time.January, 29, 0, 0, 0, 0, time.UTC)},
		{ID: "F-2", At: sampleDay(15, 20, 0), By: sampleJean, Step: "dns-switch", AfterRun: true,
			Text:   "La procédure DNS papier cite encore l'ancien serveur autoritaire.",
			Action: "Mettre à jour la fiche réflexe DNS et l'intégrer au runbook comme étape exec.",
			Owner:  "Claire Martin", Due: time.Date(2026, time.December, 18, 0, 0, 0, 0, time.UTC)},
	}
}

// sampleRestores is the backup restored.
func sampleRestores() []Restore {
	return []Restore{
		{Step: "restore-archives", Result: "succeeded", Domain: "erp-archives", BackupID: "bk-20261130-0200-erp-archives", ChecksumStep: "archives-intact",
			KeySource: "AGE_KEY from --secret-var archives_key (/run/keys/archives.txt)",
			TakenAt:   time.Date(2026, time.November, 30, 2, 0, 0, 0, time.UTC), Age: sampleDay(14, 24, 5).Sub(time.Date(2026, time.November, 30, 2, 0, 0, 0, time.UTC)),
			SHA256:   "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9",
			Verified: true, KeyUsedBy: sampleSophie, KeyUsedAt: sampleDay(14, 24, 40), KeyID: "age1pra2026archives (age X25519 recipient)"},
	}
}

// sampleIntegrity is the audit chain and its signed head.
func sampleIntegrity() Integrity {
	return Integrity{
		Events:     96,
		FirstSeq:   1,
		LastSeq:    96,
		ChainHead:  "sha256:63e63686de53245d48d2015bd25d286643b57111fc5698c211c528476f5b01b4",
		Verified:   true,
		VerifiedAt: sampleDay(15, 30, 0),
		AuditFile:  "audit.db",
		Signatures: []Signature{{
			What:      "tête de chaîne",
			Signer:    sampleClaire,
			Principal: "claire.martin@ministere.gouv.fr",
			Namespace: "repli-chain",
			Key:       "SHA256:e7MgFFrUb5CJg4s/IBo/aCWvY2uEMr9Xdj+I447Ru+E",
			At:        sampleDay(14, 53, 5),
			Valid:     true,
			Message:   "repli chain head: run 42, events 1-96, sha256:63e63686de53245d48d2015bd25d286643b57111fc5698c211c528476f5b01b4",
			Armored: "-----BEGIN SSH SIGNATURE-----\n" +
				"U1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAgvHNq9yKkYpmABThO9ANQuCIi2H\n" +
				"TB/mmWLutWjXeQutEAAAALcmVwbGktY2hhaW4AAAAAAAAABnNoYTUxMgAAAFMAAAALc3No\n" +
				"LWVkMjU1MTkAAABAI7U35fpYJHFriUlFSmgtf9dHCBhuYUBneKU/snj9u6GH4A8PxCwlMb\n" +
				"J2dnre9TYn5+IEua2SfKVIClxNyBzuAg==\n" +
				"-----END SSH SIGNATURE-----",
			AllowedSigners: `claire.martin@ministere.gouv.fr namespaces="repli-chain" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILxzavcipGKZgAU4TvQDULgiIth0wf5pli7rVo13kLrR`,
		}},
	}
}
