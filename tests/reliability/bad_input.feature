Feature: A feature written wrong fails at once, naming what is wrong and how to write it
  Each scenario has one mistake a feature writer can make: a malformed duration, count,
  doc string or table, or a name nobody registered. Each must fail at once (an error, not
  a wait that runs out), with a message that names the input and the fix, and the run must
  go on to the next scenario. tests/reliability/test_bad_input.py runs them all in one
  behave run and checks each message and how long each scenario took.

  # Malformed input ---------------------------------------------------------------------

  Scenario: A malformed duration is named, not left undefined
    Then within ten seconds the order status is "pending"

  Scenario: A malformed count is named
    Then within 1 second the billing queue receives many messages

  Scenario: A malformed JSON doc string is named with its line and column
    When "order.created" is published with:
      """
      {"order_id": "ord-x", 'quantity': 1}
      """

  Scenario: An empty JSON doc string is named
    When a message is sent to the billing queue with:
      """
      """

  Scenario: A missing JSON doc string is asked for
    When a message is sent to the billing queue with:

  Scenario: A message table with a wrong heading is named
    Then within 1 second the billing queue receives a message with:
      | name     | value   |
      | order_id | "ord-1" |

  Scenario: A message table with a missing column is named
    Then within 1 second the billing queue receives a message with:
      | field    |
      | order_id |

  Scenario: A malformed marker in a table is named before any message comes
    Then within 1 second the billing queue receives a message with:
      | field  | value         |
      | amount | <near:lots±1> |

  Scenario: A change table with wrong headings is named
    Given a snapshot of the "inventory" table
    Then within 1 second the "inventory" table changes to:
      | column   | old | new |
      | quantity | 100 | 97  |

  Scenario: A missing change table is asked for
    Given a snapshot of the "inventory" table
    Then within 1 second the "inventory" table changes to:

  Scenario: A trace table with a wrong heading is named
    Then within 1 second the trace for this order contains, in order:
      | event_name    |
      | order.created |

  Scenario: A table of events across channels with a missing column is named
    Then within 1 second these happen in order:
      | channel |
      | trace   |

  Scenario: An unknown placeholder in a doc string is named
    When a message is sent to the billing queue with:
      """
      {"order_id": "{ordr_id}"}
      """

  Scenario: Malformed headers are named
    When "order.created" is published with headers "source web":
      """
      {"order_id": "ord-x"}
      """

  Scenario: A webhook receiver answering an impossible status is named
    Given a webhook receiver "payment-complete" that answers 999

  Scenario: A wait longer than the scenario budget is rejected before it starts
    Then within 10 minutes the order status is "shipped"

  # Unknown names -----------------------------------------------------------------------

  Scenario: An unknown probe is named, with a suggestion
    Then within 1 second the ordr status is "pending"

  Scenario: An unknown queue is named, with a suggestion
    Then within 1 second the biling queue receives 1 message

  Scenario: An unknown webhook receiver is named
    Then within 1 second the "payment-complete" webhook receives 1 call

  Scenario: An unknown snapshot subject is named, with a suggestion
    Given a snapshot of the inventry of product "prod-789"

  Scenario: An unknown snapshot table is named, with a suggestion
    Given a snapshot of the "inventry" table

  Scenario: An unknown trace is named, with a suggestion
    Then within 1 second the trace for this ordr contains, in order:
      | event_type    |
      | order.created |

  Scenario: An unknown channel is named
    Then within 1 second these happen in order:
      | channel        | event             |
      | carrier-pigeon | payment.completed |
