Feature: A new ticket goes to the least busy agent, and everyone hears of it
  The helpdesk triages each ticket in the background: it assigns the agent with the
  fewest open tickets, tells the assignments queue, calls the customer back, and keeps
  an audit trail. Every step below waits for that, none sleeps.

  Background:
    Given the "agents" table has:
      | name  | open_tickets |
      | alice | 3            |
      | bob   | 1            |
    And a webhook receiver "customer"
    And the scenario fails at once if the ticket status becomes "unassigned"

  Scenario: A ticket is assigned within seconds
    When a customer opens an "urgent" ticket "Printer on fire"
    Then within 5 seconds the ticket status is "assigned"

  Scenario: The least busy agent gets the ticket, and no other agent changes
    Given a snapshot of the "agents" table
    When a customer opens a "normal" ticket "VPN down"
    Then within 5 seconds the "agents" table changes to:
      | name | column       | before | after |
      | bob  | open_tickets | 1      | 2     |

  Scenario: The assignments queue hears of the ticket once
    When a customer opens a "normal" ticket "New laptop"
    Then within 5 seconds the assignments queue receives a message with:
      | field     | value         |
      | ticket_id | "{ticket_id}" |
      | agent     | "bob"         |

  Scenario: The customer is called back
    When a customer opens a "low" ticket "Password reset"
    Then within 5 seconds the "customer" webhook receives 1 call
    And the call's JSON body contains:
      """
      {"ticket_id": "{ticket_id}", "status": "assigned"}
      """

  Scenario: The audit trail tells the whole story, in order
    When a customer opens an "urgent" ticket "Server down"
    Then within 5 seconds the audit trail contains exactly, in order:
      | event_type        |
      | ticket.opened     |
      | ticket.triaged    |
      | ticket.assigned   |
      | customer.notified |
