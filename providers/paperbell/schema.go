package paperbell

import (
	"github.com/bellsync/bellsync/providers"
	"github.com/zclconf/go-cty/cty"
)

// kindSpec is what differs between the three resource kinds.
type kindSpec struct {
	schema providers.Schema
	// noun names one record in operation names ("create client").
	noun string
	// times are the timestamp fields, normalised on read.
	times map[string]bool
}

var allCaps = providers.Capabilities{
	List: true, Get: true, Create: true, Update: true, Delete: true,
	ChangedSince: true,
}

var listOfString = cty.List(cty.String)

var contactSpec = kindSpec{
	noun:  "client",
	times: map[string]bool{"created_at": true, "updated_at": true},
	schema: providers.Schema{
		Kind: "contacts",
		Fields: []providers.Field{
			{Name: "first_name", Type: cty.String},
			{Name: "last_name", Type: cty.String},
			{Name: "email", Type: cty.String},
			{Name: "additional_emails", Type: listOfString, Set: true},
			{Name: "phone", Type: cty.String},
			{Name: "time_zone", Type: cty.String},
			{Name: "tags", Type: listOfString, Set: true},
			{Name: "archived", Type: cty.Bool},
			{Name: "created_at", Type: cty.String, ReadOnly: true},
			{Name: "updated_at", Type: cty.String, ReadOnly: true},
		},
		Caps: func() providers.Capabilities {
			c := allCaps
			c.Archive = true
			return c
		}(),
		ArchiveField:   "archived",
		DeleteCascades: true,
	},
}

var taskSpec = kindSpec{
	noun:  "task",
	times: map[string]bool{"due_date": true, "completed_at": true, "created_at": true, "updated_at": true},
	schema: providers.Schema{
		Kind:   "tasks",
		Parent: "contacts",
		Fields: []providers.Field{
			{Name: "title", Type: cty.String},
			{Name: "description", Type: cty.String},
			{Name: "due_date", Type: cty.String},
			// status is "open" or "completed"; completing a task sets
			// completed_at on the server.
			{Name: "status", Type: cty.String},
			{Name: "completed_at", Type: cty.String, ReadOnly: true},
			{Name: "created_at", Type: cty.String, ReadOnly: true},
			{Name: "updated_at", Type: cty.String, ReadOnly: true},
		},
		Caps: childCaps,
	},
}

var noteSpec = kindSpec{
	noun:  "note",
	times: map[string]bool{"created_at": true, "updated_at": true},
	schema: providers.Schema{
		Kind:   "notes",
		Parent: "contacts",
		Fields: []providers.Field{
			{Name: "content", Type: cty.String},
			// visibility is "private" (the default) or "shared".
			{Name: "visibility", Type: cty.String},
			{Name: "created_at", Type: cty.String, ReadOnly: true},
			{Name: "updated_at", Type: cty.String, ReadOnly: true},
		},
		Caps: childCaps,
	},
}

// childCaps: tasks and notes also have an account-wide listing.
var childCaps = func() providers.Capabilities {
	c := allCaps
	c.ListAll = true
	return c
}()
