# ruff: noqa: E501  (prose paragraphs and table rows are data, one per line)
"""The text of the sample corpus: policies, regulations and procedures of a fictional bank.

Each document is written once in a small Markdown subset (``#`` headings, paragraphs, ``- ``
items, ``| a | b |`` table rows with the first row as header) and rendered into its target format
by :mod:`kbflow.tasks.core.samples`. Harbourview Bank is fictional; names, e-mail addresses
(``.example`` domains), phone numbers (Ofcom and NANP drama ranges), IBANs and card numbers are
published test values.
"""

from __future__ import annotations

from typing import Final

BANK: Final = "Harbourview Bank"

AML_POLICY: Final = """# Anti-Money Laundering and Counter-Terrorist Financing Policy

## Purpose

This policy sets out how Harbourview Bank prevents its products and services from being used to launder the proceeds of crime or to finance terrorism. It applies to every employee, contractor and agent of the bank in all branches and subsidiaries.

## Customer due diligence

Before an account is opened, staff must identify the customer and verify that identity using reliable, independent documents. For legal entities the bank also identifies the beneficial owners who hold more than twenty-five percent of the shares or voting rights.

- Standard due diligence applies to most retail customers.
- Simplified due diligence may be applied only where the risk assessment shows a low risk.
- Enhanced due diligence is mandatory for politically exposed persons, correspondent banking relationships and customers established in high-risk third countries.

## Ongoing monitoring

Transactions are screened against sanctions lists in real time. The transaction monitoring system raises alerts for unusual patterns such as rapid movement of funds, structuring of cash deposits below reporting thresholds, and payments to jurisdictions on the bank's restricted list. Analysts must review every alert within five business days.

## Suspicious activity reporting

Any employee who knows or suspects that a transaction involves criminal property must report it to the Money Laundering Reporting Officer without delay. Employees must never tip off the customer. The reporting officer decides whether to file a suspicious activity report with the financial intelligence unit.

## Record keeping

Identification records and transaction records are kept for at least five years after the end of the business relationship. Records must be retrievable within two business days when requested by a supervisor.

## Training

All staff complete anti-money laundering training when they join and every year afterwards. Staff in high-risk roles receive additional training on typologies, sanctions evasion and trade-based money laundering.
"""

DATA_PROTECTION: Final = """# Data Protection Policy

## Scope

This policy governs how Harbourview Bank collects, uses, stores and deletes personal data about customers, employees and suppliers. It implements the General Data Protection Regulation and the national data protection act.

## Principles

Personal data is processed lawfully, fairly and transparently, collected for specified purposes only, and limited to what is necessary. Data must be accurate, kept no longer than required, and protected by appropriate security measures.

## Lawful bases

| Processing activity | Lawful basis | Retention |
| Account opening and servicing | Contract | 10 years after closure |
| Fraud prevention | Legitimate interest | 6 years |
| Marketing e-mails | Consent | Until consent is withdrawn |
| Tax reporting | Legal obligation | 10 years |

## Data subject rights

Customers may request access to their data, correction, deletion, restriction of processing and data portability. Requests are answered within one month. The Data Protection Officer can be reached through the privacy team and keeps a register of all requests.

## Breach notification

A personal data breach that is likely to result in a risk to individuals must be reported to the supervisory authority within seventy-two hours of discovery. Where the risk is high, affected customers are informed without undue delay.

## International transfers

Personal data leaves the European Economic Area only under an adequacy decision, standard contractual clauses, or binding corporate rules approved by the authority.
"""

COMPLAINTS: Final = """# Complaints Handling Procedure

## Receiving a complaint

A complaint is any expression of dissatisfaction, oral or written, about a product or service of the bank. Complaints may be made in a branch, by telephone, through online banking or by letter. Every complaint is logged in the complaints register on the day it is received.

## Acknowledgement

The customer receives a written acknowledgement within two business days. The acknowledgement names the case handler and explains the next steps.

## Investigation

The case handler gathers the facts, reviews account records and call recordings, and speaks to the staff involved. The handler must be independent of the matter complained about.

## Final response

A final response is issued within fifteen business days. In exceptional situations a holding reply may extend this to thirty-five business days. The final response explains the decision, any redress offered, and the customer's right to refer the complaint to the Financial Ombudsman.

## Redress

| Outcome | Typical redress |
| Fee charged in error | Refund plus interest at 8 percent |
| Service failure | Goodwill payment between 25 and 250 EUR |
| Mis-sold product | Restore the customer to the position before the sale |

## Root cause analysis

Each quarter the complaints team analyses trends and reports root causes to the Conduct Risk Committee, which tracks remediation actions to completion.
"""

INFOSEC: Final = """# Information Security Standard

## Access control

Access to systems is granted on the principle of least privilege. Privileged accounts require multi-factor authentication and are reviewed every quarter. Accounts of leavers are disabled on their last working day.

## Passwords

Passwords must be at least fourteen characters long. Password managers approved by the security team are recommended. Passwords are never shared, written down or sent by e-mail.

## Encryption

Customer data is encrypted at rest with AES-256 and in transit with TLS 1.2 or later. Encryption keys are held in hardware security modules and rotated every year.

## Vulnerability management

| Severity | Patch deadline |
| Critical | 7 days |
| High | 30 days |
| Medium | 90 days |
| Low | Next maintenance window |

## Incident reporting

Employees report suspected security incidents immediately to the Security Operations Centre. Phishing e-mails are reported with the report button in the mail client and then deleted.

## Clean desk

Confidential documents are locked away at the end of each day, screens are locked whenever a desk is left, and printed customer statements are collected from printers straight away.
"""

CODE_OF_CONDUCT: Final = """# Code of Conduct

Harbourview Bank expects every employee to act with integrity, to treat customers fairly and to respect colleagues. This code explains the standards of behaviour that apply to all of us.

## Conflicts of interest

Employees must avoid situations where personal interests conflict with the interests of the bank or its customers. Outside business activities, directorships and close personal relationships with suppliers must be declared to the compliance team before they start.

## Gifts and hospitality

- Gifts worth more than 50 EUR must be declared in the gifts register.
- Cash or cash equivalents are never accepted.
- Hospitality during a tender process is declined.

## Personal account dealing

Employees who have access to inside information may trade in securities only after pre-clearance and must hold investments for at least thirty days.

## Speaking up

Employees who see wrongdoing are encouraged to speak up. Concerns can be raised with a line manager, with the compliance team or anonymously through the whistleblowing hotline. The bank does not tolerate retaliation against anyone who raises a concern in good faith.
"""

REMOTE_WORK: Final = """# Remote Work Guidelines

## Eligibility

Employees whose roles do not require physical presence in a branch may work remotely for up to three days a week, with the agreement of their line manager.

## Equipment

The bank provides a laptop, a headset and a second screen. Only bank-issued devices may be used to access customer data. Personal printers must not be used for customer documents.

## Working environment

Calls with customers take place where they cannot be overheard. Screens must not be visible to other members of the household. Public Wi-Fi networks are used only together with the corporate VPN.

## Working hours

Core hours are ten to four. Employees record their working time in the time-tracking system and take at least eleven consecutive hours of rest every day.
"""

CAPITAL: Final = """# Capital Requirements: Summary for Management

## Pillar 1 minimum requirements

Under the Capital Requirements Regulation the bank must hold Common Equity Tier 1 capital of at least 4.5 percent of risk-weighted assets, Tier 1 capital of at least 6 percent, and total capital of at least 8 percent.

## Buffers

| Buffer | Requirement |
| Capital conservation buffer | 2.5 percent |
| Countercyclical buffer | 0 to 2.5 percent, set by the national authority |
| Systemic risk buffer | Set by the national authority |

## Leverage ratio

The leverage ratio compares Tier 1 capital with total exposure, including off-balance-sheet items. The minimum is 3 percent.

## Internal capital adequacy assessment

Every year the bank runs its Internal Capital Adequacy Assessment Process. It identifies material risks not fully covered by Pillar 1, such as interest rate risk in the banking book and concentration risk, and sets aside additional capital for them. Stress tests include a severe recession scenario with a fall in house prices of thirty percent.
"""

PSD2: Final = """# Strong Customer Authentication under PSD2

## What the rule requires

The revised Payment Services Directive requires strong customer authentication when a customer accesses a payment account online, initiates an electronic payment, or carries out any action through a remote channel that may imply a risk of payment fraud.

## Two independent factors

Authentication combines at least two of the following elements, which must be independent so that the breach of one does not compromise the others:

- knowledge: something only the customer knows, such as a PIN;
- possession: something only the customer has, such as a registered mobile phone;
- inherence: something the customer is, such as a fingerprint.

## Dynamic linking

For remote payments the authentication code is linked to the amount and the payee. If either changes, the code becomes invalid.

## Exemptions

The bank applies the exemptions for low-value contactless payments, trusted beneficiaries, recurring transactions of the same amount, and transaction risk analysis where the fraud rate stays below the reference rates.
"""

CONSUMER_CREDIT: Final = """# Consumer Credit Directive: Notes for Lending Staff

## Pre-contractual information

Before a consumer signs a credit agreement, the bank provides the Standard European Consumer Credit Information form. It shows the annual percentage rate of charge, the total amount payable, the duration and the consequences of missed payments.

## Creditworthiness assessment

Lenders must assess the consumer's creditworthiness on the basis of sufficient information about income and expenses. A loan is granted only where the assessment shows that the consumer is likely to meet the obligations under the agreement.

## Right of withdrawal

The consumer may withdraw from the agreement within fourteen calendar days without giving a reason. Interest is payable only for the days on which the credit was drawn.

## Early repayment

Consumers may repay early at any time. Compensation for the lender is limited to 1 percent of the amount repaid early, or 0.5 percent if less than a year of the agreement remains. Example: for an early repayment of 2 000 EUR the fee is at most 20 EUR.

## Glossary for the Zürich and Genève offices

Créditeur means lender, débiteur means borrower. The bank’s “Kreditprüfung” checklist is the German name for the creditworthiness assessment.
"""

BASEL_LCR: Final = """# Basel III Liquidity Coverage Ratio

## Definition

The liquidity coverage ratio requires the bank to hold enough high-quality liquid assets to cover its total net cash outflows over a thirty-day stress period. The ratio must stay at or above 100 percent at all times.

## High-quality liquid assets

Level 1 assets include cash, central bank reserves and sovereign bonds with a zero risk weight; they are counted without a haircut. Level 2A assets receive a 15 percent haircut and Level 2B assets a haircut of 25 to 50 percent. Level 2 assets may not exceed 40 percent of the stock.

## Outflow rates

| Funding source | Run-off rate |
| Stable retail deposits | 5 percent |
| Less stable retail deposits | 10 percent |
| Operational wholesale deposits | 25 percent |
| Non-operational wholesale deposits | 40 percent |

## Reporting

The Treasury department calculates the ratio daily and reports it to the regulator every month. A breach is escalated to the Asset and Liability Committee on the same day, together with a plan to restore compliance.

## Net stable funding ratio

The net stable funding ratio complements the liquidity coverage ratio over a one-year horizon. Available stable funding must be at least equal to required stable funding.
"""

ACCOUNT_OPENING: Final = """# Account Opening Checklist

Use this checklist for every new personal current account.

## Identity

- Valid passport or national identity card, checked with the document scanner.
- Proof of address dated within the last three months.
- Selfie match completed for online applications.

## Screening

- Sanctions and politically exposed person screening returned no match.
- Fraud database check completed.
- Credit reference check completed if an overdraft is requested.

## Product

- Customer received the key facts document and the fee information document.
- Tax residency self-certification signed.
- Online banking registration offered.

## Sign-off

The branch adviser signs the checklist and a second member of staff reviews it within one business day.
"""

WIRE_TRANSFER: Final = """# Wire Transfer Procedure

## Scope

This procedure applies to outgoing international payments and high-value domestic payments initiated in branches or by relationship managers.

## Verification

Instructions received by e-mail are never executed without a call-back to the customer on a telephone number already held on file. The call-back is recorded and noted on the payment instruction.

## Four-eyes principle

| Amount | Approval |
| Up to 10 000 EUR | One authorised signatory |
| 10 000 to 250 000 EUR | Two authorised signatories |
| Above 250 000 EUR | Two signatories and the branch manager |

## Cut-off times

Payments in euro received before 15:00 are executed the same day. Payments in other currencies received before 12:00 are executed the same day; later instructions are executed on the next business day.

## Payment fraud warning signs

Urgency, a change of beneficiary bank details, requests for secrecy and a first payment to a new beneficiary are warning signs. Staff escalate such payments to the fraud team before release.
"""

CARD_DISPUTE: Final = """# Card Dispute Process

## When a customer disputes a card payment

A customer may dispute a card transaction that they did not authorise, that was charged twice, or for goods that were never delivered. The dispute is raised within thirteen months of the transaction date.

## Steps

- Block the card if fraud is suspected and order a replacement.
- Record the disputed transactions and the reason code.
- Give a provisional credit within one business day for unauthorised transactions.
- Raise a chargeback with the card scheme within the scheme time limits.

## Scheme time limits

| Reason | Time limit |
| Fraud, card not present | 120 days |
| Duplicate processing | 120 days |
| Goods not received | 120 days after expected delivery |

## Closing the case

When the scheme decides in the customer's favour the provisional credit becomes final. When the merchant successfully defends the chargeback, the customer is informed in writing with the evidence provided by the merchant.
"""

CASH_HANDLING: Final = """# Branch Cash Handling

## Opening the vault

The vault is opened by two members of staff with separate combinations. Opening and closing times are entered in the vault log.

## Cash limits

Each teller drawer holds no more than 15 000 €, including the drawer of the café kiosk in the Zürich branch. Excess cash is transferred to the vault during the day. Notes suspected to be counterfeit are retained, the customer receives a receipt, and the notes are sent to the national central bank.

## End of day

Tellers balance their drawers at the end of each day. Differences above 50 € are reported to the branch manager and investigated before the branch closes.
"""

INCIDENT_RUNBOOK: Final = """# Incident Response Runbook: Online Banking Outage

## Detection

The monitoring service pages the on-call engineer when the login success rate falls below 95 percent for five minutes or when the payment API error rate exceeds 2 percent.

## First fifteen minutes

- Acknowledge the page and open an incident channel.
- Check the status of the identity provider, the core banking gateway and the content delivery network.
- Post a holding message on the status page.

## Communication

The incident commander sends an update to the operations and customer service teams every thirty minutes. If the outage lasts longer than two hours, the regulator is notified under the major incident reporting rules.

## Recovery and review

After service is restored, the team confirms that queued payments were processed exactly once. A blameless post-incident review takes place within five business days and its actions are tracked in the problem management system.
"""

MORTGAGE_SCAN: Final = """# Mortgage Lending Policy

## Affordability

Applicants must show that repayments remain affordable if interest rates rise by three percentage points. Income is verified with payslips and bank statements.

## Loan to value

The maximum loan to value ratio is 90 percent for first-time buyers and 80 percent for buy-to-let properties.

Approved by the Credit Committee.
"""

BRANCH_NOTICE: Final = """# Branch Notice

Our branch will close early on Friday at 13:00 for staff training.

Cash machines remain available at all times.

For urgent help call our customer service team.
"""

FEE_SCHEDULE_PHOTO: Final = """# Fee Schedule 2025

Monthly account fee: 4.50 EUR

Replacement debit card: 10 EUR

International transfer: 15 EUR
"""

COMPLAINT_LETTER: Final = """Customer complaint, reference C-2024-113

From: Margaret Ellison <margaret.ellison@mailbox.example>
Telephone: +44 20 7946 0958

Dear Sir or Madam,

I am writing to complain about two charges on my current account. On 14 March the bank charged an unarranged overdraft fee of 35 EUR although a transfer of 500 EUR had been credited the same morning. Please refund the fee to my account IBAN GB82 WEST 1234 5698 7654 32.

I raised this in the branch on 18 March but have not received a reply. I would also like to know why my statement shows the fee twice.

Yours faithfully,
Margaret Ellison
"""

DISPUTE_FORM: Final = """# Card Dispute Form

## Cardholder

| Field | Value |
| Name | Daniel Okafor |
| E-mail | d.okafor@post.example |
| Phone | (212) 555-0187 |
| Card number | 4111 1111 1111 1111 |

## Disputed transactions

| Date | Merchant | Amount |
| 2 May 2024 | Online Electronics Ltd | 649.00 EUR |
| 2 May 2024 | Online Electronics Ltd | 649.00 EUR |

## Reason

I was charged twice for the same order. The merchant has not answered my e-mails since 6 May.
"""

CLOSURE_REQUEST: Final = """# Account Closure Request

Please close my savings account and transfer the remaining balance to my account with another bank.

- Account holder: Sofia Lindqvist
- E-mail: sofia.lindqvist@example.com
- Transfer to IBAN: DE89 3704 0044 0532 0130 00
- Mobile: +49 30 1234 5678

I confirm that I have cancelled all standing orders linked to this account.
"""

MOBILE_FAQ: Final = """# Mobile Banking FAQ

## How do I register for the app?

Download the Harbourview app from your app store, enter your customer number and confirm with the activation code that we send by post.

## What can I do in the app?

You can check balances, pay bills, send money to contacts, freeze and unfreeze your card, and view your PIN.

## Is the app secure?

The app uses device binding, biometric login and encryption. We will never ask for your full password by phone or e-mail.

## What if I lose my phone?

Call us straight away or log in to online banking from another device and deregister the lost phone. Your card can be frozen from the website as well.
"""

SAVINGS_FAQ: Final = """# Savings Accounts: Frequently Asked Questions

## Which savings accounts do you offer?

| Account | Interest rate | Access |
| Easy Saver | 2.10 percent | Instant |
| 1-Year Fixed Saver | 3.40 percent | At maturity |
| Junior Saver | 3.00 percent | From age 18 |

## Is my money protected?

Eligible deposits are protected by the deposit guarantee scheme up to 100 000 EUR per person.

## How is interest paid?

Interest is calculated daily and paid monthly or annually, as the customer chooses when opening the account.

## Can I withdraw early from a fixed saver?

Early withdrawal is not allowed, except in cases of hardship, when a charge equal to ninety days' interest applies.
"""

GREEN_LENDING: Final = """# Green Lending Framework

## Eligible projects

The bank finances residential energy efficiency improvements, rooftop solar installations, heat pumps and electric vehicles under its green lending framework.

## Pricing

Green loans carry a discount of 0.25 percentage points on the standard rate. The discount is confirmed after the customer provides an energy performance certificate or installer invoice.

## Reporting

The sustainability team publishes the volume of green lending and the estimated carbon savings every year in the bank's sustainability report.
"""
