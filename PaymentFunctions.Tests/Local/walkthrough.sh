#!/usr/bin/env bash
# The local walkthrough that `npm start` prints: create -> prepare -> pay in the fake P云 -> status Paid.
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
# 4. The mini program asks for the authoritative status (the queue listener applies the notification at once):
sleep 1; curl -s "$APP/api/orders/$ORDER_ID"; echo
