package emulator

import (
	"encoding/json"
	"time"
)

// timeLayout is how the emulator writes timestamps: RFC 3339 in UTC with
// milliseconds, the shape of the corpus. Stored times are truncated to the
// millisecond so that what a client reads back is exactly what is stored,
// and an updated_since built from a listed updated_at never misses a row.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// Client is a Paperbell client. Empty optional strings are written as JSON
// null; lists are never null.
type Client struct {
	ID               string    `json:"id"`
	FirstName        string    `json:"first_name"`
	LastName         string    `json:"last_name"`
	Email            string    `json:"email"`
	AdditionalEmails []string  `json:"additional_emails"`
	Phone            string    `json:"phone"`
	TimeZone         string    `json:"time_zone"`
	Tags             []string  `json:"tags"`
	Archived         bool      `json:"archived"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// Task is a to-do the coach keeps on a client.
type Task struct {
	ID          string     `json:"id"`
	ClientID    string     `json:"client_id"`
	Title       string     `json:"title"`
	Description string     `json:"description"`
	DueDate     *time.Time `json:"due_date"`
	// Status is "open" or "completed".
	Status      string     `json:"status"`
	CompletedAt *time.Time `json:"completed_at"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// Note is an entry in a client's notes log. Content is kept byte for byte.
type Note struct {
	ID       string `json:"id"`
	ClientID string `json:"client_id"`
	Content  string `json:"content"`
	// Visibility is "private" or "shared".
	Visibility string    `json:"visibility"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// MarshalJSON writes the wire shape.
func (c Client) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID               string   `json:"id"`
		FirstName        *string  `json:"first_name"`
		LastName         *string  `json:"last_name"`
		Email            *string  `json:"email"`
		AdditionalEmails []string `json:"additional_emails"`
		Phone            *string  `json:"phone"`
		TimeZone         *string  `json:"time_zone"`
		Tags             []string `json:"tags"`
		Archived         bool     `json:"archived"`
		CreatedAt        string   `json:"created_at"`
		UpdatedAt        string   `json:"updated_at"`
	}{
		ID:               c.ID,
		FirstName:        optString(c.FirstName),
		LastName:         optString(c.LastName),
		Email:            optString(c.Email),
		AdditionalEmails: nonNil(c.AdditionalEmails),
		Phone:            optString(c.Phone),
		TimeZone:         optString(c.TimeZone),
		Tags:             nonNil(c.Tags),
		Archived:         c.Archived,
		CreatedAt:        formatTime(c.CreatedAt),
		UpdatedAt:        formatTime(c.UpdatedAt),
	})
}

// MarshalJSON writes the wire shape.
func (t Task) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID          string  `json:"id"`
		ClientID    string  `json:"client_id"`
		Title       string  `json:"title"`
		Description *string `json:"description"`
		DueDate     *string `json:"due_date"`
		Status      string  `json:"status"`
		CompletedAt *string `json:"completed_at"`
		CreatedAt   string  `json:"created_at"`
		UpdatedAt   string  `json:"updated_at"`
	}{
		ID:          t.ID,
		ClientID:    t.ClientID,
		Title:       t.Title,
		Description: optString(t.Description),
		DueDate:     optTime(t.DueDate),
		Status:      t.Status,
		CompletedAt: optTime(t.CompletedAt),
		CreatedAt:   formatTime(t.CreatedAt),
		UpdatedAt:   formatTime(t.UpdatedAt),
	})
}

// MarshalJSON writes the wire shape.
func (n Note) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID         string `json:"id"`
		ClientID   string `json:"client_id"`
		Content    string `json:"content"`
		Visibility string `json:"visibility"`
		CreatedAt  string `json:"created_at"`
		UpdatedAt  string `json:"updated_at"`
	}{n.ID, n.ClientID, n.Content, n.Visibility, formatTime(n.CreatedAt), formatTime(n.UpdatedAt)})
}

func (c Client) clone() Client {
	c.AdditionalEmails = append([]string(nil), c.AdditionalEmails...)
	c.Tags = append([]string(nil), c.Tags...)
	return c
}

func (t Task) clone() Task {
	if t.DueDate != nil {
		d := *t.DueDate
		t.DueDate = &d
	}
	if t.CompletedAt != nil {
		d := *t.CompletedAt
		t.CompletedAt = &d
	}
	return t
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optTime(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := formatTime(*t)
	return &s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func normTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }
