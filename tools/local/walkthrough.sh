#!/usr/bin/env bash
# The local walkthrough that `npm start` prints. P云: create -> prepare -> pay in the fake P云 -> status Paid -> a
# partial refund that ends Succeeded. WeChat Pay Score: create -> confirm in the fake -> query by query_id -> complete
# -> pay in the fake -> DONE -> a partial refund that ends Succeeded. Each change reaches the business system as a
# signed event (steps 4c and 11).
# Run it against a running `npm start`, or paste the lines below one by one.
set -euo pipefail
APP="${APP:-http://127.0.0.1:7071}"
FAKE="${FAKE:-http://127.0.0.1:7072}"
KEY="${KEY:-local-dev-function-key-0123456789}"
# --- walkthrough ---
# 1. The business system creates an order of 12.34 yuan (amounts are whole fen):
ORDER=$(curl -s -X POST "$APP/api/orders" -H "x-functions-key: $KEY" -H "Content-Type: application/json" \
  -d '{"merchantOrderNo":"DEMO-'"$RANDOM$RANDOM"'","subject":"停车缴费","amount":1234,"scene":"PARKING","extra":{"plate":"粤B12345","plate_color":"1","parking_serial":"P20261125001","park_name":"演示停车场","enter_time":"1764028800000","parking_time":"3600","free_value":0}}')
echo "$ORDER"; ORDER_ID=$(echo "$ORDER" | sed -n 's/.*"orderId":"\([^"]*\)".*/\1/p')
# 2. The mini program prepares it and gets what wx.openEmbeddedMiniProgram takes:
PREPARED=$(curl -s -X POST "$APP/api/orders/$ORDER_ID/prepare" -H "Content-Type: application/json" -d '{"client":"wechat"}')
echo "$PREPARED"; PAY_ID=$(echo "$PREPARED" | sed -n 's/.*"payId":"\([^"]*\)".*/\1/p')
# 3. The user pays in the fake P云, which POSTs a signed notification to the app:
curl -s -X POST "$FAKE/fake/pyun/trades/$PAY_ID/pay" -H "Content-Type: application/json" -d '{"outcome":"success"}'; echo
# 4. The mini program polls the authoritative status until the notification has been applied (a second or two;
#    after 5 s of silence the backend also asks P云's trade query itself):
for _ in 1 2 3 4 5 6 7 8 9 10; do STATUS=$(curl -s "$APP/api/orders/$ORDER_ID"); case "$STATUS" in *'"status":"Pending"'*) sleep 1;; *) break;; esac; done; echo "$STATUS"
# 4b. The business system refunds 2.34 yuan of it (idempotent on refundNo). P云 has no refund webhook: the backend
#     polls P云's refund query on a schedule until the refund succeeds or fails (about 15 s here: the first query
#     waits out the send's own timeout, then Refunds__CheckBackoff, 2 s here):
REFUND=$(curl -s -X POST "$APP/api/orders/$ORDER_ID/refunds" -H "x-functions-key: $KEY" -H "Content-Type: application/json" \
  -d '{"refundNo":"RF'"$RANDOM"'","amount":234,"reason":"少停了 20 分钟"}'); echo "$REFUND"
REFUND_NO=$(echo "$REFUND" | sed -n 's/.*"refundNo":"\([^"]*\)".*/\1/p')
for _ in $(seq 1 40); do REFUND=$(curl -s "$APP/api/orders/$ORDER_ID/refunds/$REFUND_NO" -H "x-functions-key: $KEY"); case "$REFUND" in *'"status":"Pending"'*) sleep 1;; *) break;; esac; done; echo "$REFUND"
curl -s "$APP/api/orders/$ORDER_ID"; echo
# 4c. The business system heard every change: its endpoint (here the fake's receiver "local") got order.paid and
#     order.refund.succeeded, each signed per Standard Webhooks and verified here with the npm library
#     `standardwebhooks`; the app's own record of them and their delivery state is GET .../events:
node "$(dirname "$0")/events.mjs" "$ORDER_ID" --wait order.refund.succeeded
curl -s "$APP/api/orders/$ORDER_ID/events" -H "x-functions-key: $KEY"; echo

# --- WeChat Pay Score ---
# 5. The business system creates a Pay Score service order; the answer carries what wx.openBusinessView takes:
OUT="PS$RANDOM$RANDOM"
curl -s -X POST "$APP/api/payscore/orders" -H "x-functions-key: $KEY" -H "Content-Type: application/json" \
  -d '{"outOrderNo":"'"$OUT"'","serviceIntroduction":"充电宝租借","postPayments":[{"name":"租借费","amount":300,"description":"每小时 3 元","count":1}],"timeRange":{"startTime":"OnAccept"},"riskFund":{"name":"DEPOSIT","amount":9900,"description":"充电宝押金"}}'; echo
# 6. The user confirms inside WeChat (the fake sends PAYSCORE.USER_CONFIRM) and returns with a query_id:
CONFIRM=$(curl -s -X POST "$FAKE/fake/wechatpay/orders/$OUT/confirm"); echo "$CONFIRM"
QUERY_ID=$(echo "$CONFIRM" | sed -n 's/.*"queryId":"\([^"]*\)".*/\1/p')
# 7. The mini program asks the backend, which asks WeChat Pay (a query_id alone proves nothing):
curl -s -X POST "$APP/api/payscore/orders/query" -H "Content-Type: application/json" -d '{"queryId":"'"$QUERY_ID"'"}'; echo
# 8. The service ends; the business system completes the order (total = payments - discounts):
curl -s -X POST "$APP/api/payscore/orders/$OUT/complete" -H "x-functions-key: $KEY" -H "Content-Type: application/json" \
  -d '{"postPayments":[{"name":"租借费","amount":600,"description":"2 小时","count":1}],"totalAmount":600}'; echo
# 9. WeChat Pay collects the money (the fake sends PAYSCORE.USER_PAID); the order is DONE:
curl -s -X POST "$FAKE/fake/wechatpay/orders/$OUT/pay"; echo
sleep 1; curl -s -X POST "$APP/api/payscore/orders/query" -H "Content-Type: application/json" -d '{"outOrderNo":"'"$OUT"'"}'; echo
# 10. The business system refunds 1.00 yuan of the 6.00 yuan WeChat collected (by the deduction's transaction_id);
#     WeChat's REFUND.SUCCESS callback, or the backend's scheduled query, settles it:
PS_REFUND=$(curl -s -X POST "$APP/api/payscore/orders/$OUT/refunds" -H "x-functions-key: $KEY" -H "Content-Type: application/json" \
  -d '{"outRefundNo":"PSR'"$RANDOM"'","amount":100,"reason":"归还提前"}'); echo "$PS_REFUND"
PS_REFUND_NO=$(echo "$PS_REFUND" | sed -n 's/.*"outRefundNo":"\([^"]*\)".*/\1/p')
for _ in $(seq 1 20); do PS_REFUND=$(curl -s "$APP/api/payscore/orders/$OUT/refunds/$PS_REFUND_NO" -H "x-functions-key: $KEY"); case "$PS_REFUND" in *'"status":"Pending"'*) sleep 1;; *) break;; esac; done; echo "$PS_REFUND"
# 11. And the business system heard each step of the Pay Score order, signed and verified the same way:
node "$(dirname "$0")/events.mjs" "$OUT" --wait payscore.refund.succeeded
