#!/usr/bin/env python3
"""Generate the sample sources the Daily Sync, the demo and the analysis tests read.

Writes ``tasks/samples/sample-posts.jsonl`` (about 1,300 community posts, roughly 60% English and
40% Chinese, about four fictional products) and ``tasks/samples/sample-feed.xml`` (an RSS 2.0 feed
of product-blog and forum-digest entries). Dated items fall between 2026-11-01 and 2026-12-13, six
weeks with 20 to 40 posts a day, so a scan of any day finds something; a few pinned posts and feed
entries carry no date at all.

Posts are assembled from hand-written fragments (a core sentence plus optional opener, detail,
usage scene and closer) so they read naturally without being copies of each other. Each theme has
a steady daily rate, and some also surge after an event: a few posts a day at first, the peak on
the fourth day, then a slow decline. Surges in the first weeks (Notebloom's price rise, sync
conflicts after its 6.4 release, VoltWay payment failures) fade; those of the last two weeks start
a few days apart (battery drain after the Lumacam 3.8 firmware update, requests for an offline mode
in Notebloom, DashPlate delivery delays in a rainy spell, slow charging in a cold snap, a new
DashPlate service fee), so the trend scan has something real to find on any late day. The
generator is seeded, so running it again reproduces the committed files byte for byte.

Usage: python scripts/make_sample_sources.py [--out-dir tasks/samples]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import random
from dataclasses import dataclass
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

SEED = 20261213
FIRST_DAY = dt.date(2026, 11, 1)
LAST_DAY = dt.date(2026, 12, 13)
DAYS = (LAST_DAY - FIRST_DAY).days + 1
CST = dt.timezone(dt.timedelta(hours=8))
# Events that set themes off, each the first day of a surge.
PRICE_NOTICE = dt.date(2026, 11, 3)
SYNC_RELEASE = dt.date(2026, 11, 8)
PAYMENT_OUTAGE = dt.date(2026, 11, 17)
FIRMWARE_3_8 = dt.date(2026, 11, 30)
OFFLINE_THREAD = dt.date(2026, 12, 3)
RAINY_SPELL = dt.date(2026, 12, 6)
COLD_SNAP = dt.date(2026, 12, 9)
SERVICE_FEE = dt.date(2026, 12, 12)
RAMP = (0.5, 0.8, 1.0)  # share of the peak on a surge's first days
DECAY = 0.65  # per day after the peak
FLOOR = 0.15  # what is left of a surge once it has faded

PRODUCTS = {
    "notebloom": "https://community.notebloom.example/t/",
    "dashplate": "https://community.dashplate.example/t/",
    "lumacam": "https://community.lumacam.example/t/",
    "voltway": "https://community.voltway.example/t/",
}


@dataclass(frozen=True)
class Surge:
    """A burst of posts after an event: ``peak`` extra posts a day at its height."""

    onset: dt.date
    peak: float

    def level(self, day: dt.date) -> float:
        """Extra posts expected on ``day``."""
        since = (day - self.onset).days
        if since < 0:
            return 0.0
        if since < len(RAMP):
            return self.peak * RAMP[since]
        return self.peak * max(FLOOR, DECAY ** (since - len(RAMP) + 1))


@dataclass(frozen=True)
class Theme:
    """One thing people post about, with the fragments its posts are built from."""

    key: str
    product: str
    lang: str
    mood: str  # "neg", "pos" or "ask": picks the opener and closer pools
    tag: str
    rate: float  # posts a day, surge aside
    surge: Surge | None
    titles: tuple[str, ...]
    cores: tuple[str, ...]
    early_cores: tuple[str, ...] = ()  # posts from before the surge
    early_titles: tuple[str, ...] = ()
    details: tuple[str, ...] = ()
    scenes: tuple[str, ...] = ()

    def expected(self, day: dt.date) -> float:
        """Posts expected on ``day``."""
        return self.rate + (self.surge.level(day) if self.surge else 0.0)

    def before_surge(self, day: dt.date) -> bool:
        return self.surge is not None and day < self.surge.onset


OPENERS = {
    ("en", "neg"): ("Ugh.", "Okay, small rant.", "Long-time user, first complaint.",
     "Not sure if it's just me.",
                    "Honestly getting tired of this.", "Sorry, venting a bit."),
    ("en", "pos"): ("Small appreciation post.", "Didn't expect to post this, but here goes.",
     "Credit where it's due.",
                    "Quick shout-out."),
    ("en", "ask"): ("Quick question for the community.", "Feature request incoming.", "Long-time user here.",
                    "Been meaning to post this for a while."),
    ("zh", "neg"): ("无语了。", "吐槽一下。", "真的服了。", "不知道是不是只有我这样。", "忍不住来发个帖。"),
    ("zh", "pos"): ("夸一下。", "说句公道话。", "来分享一个好体验。"),
    ("zh", "ask"): ("想问一下大家。", "提个建议。", "老用户了。"),
}
CLOSERS = {
    ("en", "neg"): ("Please fix this.", "Seriously considering switching.", "Not impressed.",
                    "Would love an ETA on a fix.", "This is getting old.",
                    "Really frustrating."),
    ("en", "pos"): ("Keep it up!", "Really happy with it.", "Recommended.", "Nice work, team."),
    ("en", "ask"): ("Would love to hear if it's planned.", "Anyone else want this?", "Thanks in advance.",
                    "Upvote if you agree."),
    ("zh", "neg"): ("希望赶紧修复。", "再这样就换了。", "太失望了。", "有没有人知道怎么解决？", "真的很烦。"),
    ("zh", "pos"): ("推荐！", "很满意。", "继续加油。"),
    ("zh", "ask"): ("希望官方能看到。", "有同样需求的举个手。", "先谢谢了。"),
}

EN_THEMES = (
    Theme(
        "lumacam-battery", "lumacam", "en", "neg", "battery", 0.4, Surge(FIRMWARE_3_8, 5.0),
        titles=("Battery drain after 3.8 update?", "Lumacam 3.8 killing my battery",
                "Battery drain after the update, known issue?", "Outdoor cam battery dying in days",
                "PSA: hold off on firmware 3.8", "Firmware update = battery drain",
                "Doorbell cam battery tanking since update"),
        early_titles=("Battery life in cold weather?", "Side cam battery dropping fast"),
        early_cores=(
            "My Lumacam outdoor cam battery seems to drain faster now that it's getting colder. Is that "
            "normal?",
            "Battery on the side-gate cam dropped 15% in two days. Busy street, lots of motion, "
            "so maybe that's expected?",
        ),
        cores=(
            "Since the 3.8 firmware update my Lumacam battery went from lasting a month to barely a week.",
            "Anyone else seeing crazy battery drain after the latest Lumacam update? "
            "Doorbell cam is at 40% after three days.",
            "The new firmware absolutely eats the battery. Charged both outdoor cams on Sunday, "
            "one is already dead.",
            "Battery drain after the update is real. I turned off motion zones and it still drops about 10% "
            "a day.",
            "Lumacam 3.8 broke battery life for me. Used to recharge every five weeks, now it's every six "
            "days.",
            "My backyard camera died overnight after the update. The battery drain is ridiculous and support "
            "just says to reset it.",
            "You can't roll back either. The 3.8 update drains the battery and there's no way to downgrade.",
            "Is the battery drain after the update a known bug? Two cams, same problem, both on 3.8.",
            "Woke up to a 'battery critical' alert on a camera I charged on Friday. Thanks, firmware update.",
            "After updating, the garage cam keeps waking up every few minutes and the battery is tanking.",
        ),
        details=("Live view is barely used, so it's not that.",
                 "It's been mild all week, so I don't think the cold is to blame.",
                 "I already power-cycled it and re-paired it twice.",
                 "Support ticket has been open for four days with no real answer.",
                 "The activity log shows it waking up constantly since the update.",
                 "Battery health still says good, so it isn't the cell.",
                 "Motion sensitivity is on the lowest setting.",
                 "Same placement, same settings as last month."),
        scenes=("We're leaving for a week of holiday travel soon and I don't trust it to last while we're "
                "away.",
                "I'm on the road for work most weeks, so I can't keep climbing a ladder to recharge it.",
                "I work night shifts and this camera is how I keep an eye on the house while the kids sleep.",
                "Working from home, I can hear the chime for every single wake-up. It's constant."),
    ),
    Theme(
        "lumacam-night-vision", "lumacam", "en", "pos", "night-vision", 1.2, None,
        titles=("Night vision is genuinely impressive", "Night footage is great",
                "Appreciation post for the color night mode", "Lumacam night mode beats my old camera"),
        cores=(
            "The color night vision on the Lumacam is way better than I expected. You can read a license "
            "plate "
            "at 2am.",
            "Caught a fox wandering through the yard at 3am and the night footage is crystal clear.",
            "Switched from another brand and the night vision alone was worth it.",
            "Night mode picked up the delivery guy's face perfectly even with the porch light off.",
            "Love how sharp the infrared image is. Zero grain compared to my old setup.",
            "Honestly the best part of this camera is the night vision. Daytime is fine, nights are great.",
        ),
        details=("Setup took ten minutes.", "The spotlight trigger is a nice touch.",
                 "Clips load fast in the app too."),
        scenes=("Coming home from a late shift, it's reassuring to check the driveway before I pull in.",
                "We watched the clip at family dinner and the kids named the fox.",
                "Checked it from the hotel while traveling and could see everything."),
    ),
    Theme(
        "lumacam-alerts", "lumacam", "en", "neg", "alerts", 1.4, None,
        titles=("Motion alerts are a mess", "Notifications are useless lately",
                "Alerts: late or false, never right", "Too many pointless alerts"),
        cores=(
            "Motion alerts show up four or five minutes after the event, by then the package is gone.",
            "I get a false motion alert every time a car's headlights sweep across the window.",
            "Person detection keeps flagging my own shadow. Thirty alerts a night is not helpful.",
            "Notifications are lagging badly. The clip shows the courier leaving before my phone "
            "even buzzes.",
            "A spider built a web in front of the lens and now I get alerts all night.",
            "Alerts are either late or missing entirely. What's the point of a security camera then?",
            "Turned on smart zones and still get pinged for every leaf that blows past.",
        ),
        details=("Phone has notifications allowed and battery optimization off.",
                 "My internet is fine, 300 Mbps.",
                 "I've tried lowering sensitivity and it barely changes anything."),
        scenes=("When I'm on night shift I can't be checking false alarms every ten minutes.",
                "Working from home, the constant pings interrupt every meeting.",
                "On vacation I ended up muting it, which defeats the purpose."),
    ),
    Theme(
        "lumacam-wifi", "lumacam", "en", "neg", "connectivity", 0.91, None,
        titles=("Camera keeps going offline", "Wi-Fi disconnects every night", "Lumacam offline again",
                "Connection keeps dropping"),
        cores=(
            "My front cam drops off Wi-Fi almost every night and needs a manual reconnect.",
            "Camera shows 'offline' in the app even though the router is ten feet away.",
            "Constant disconnects on 2.4GHz. Every other device in the house is fine.",
            "It went offline while we were out and I only noticed the next morning.",
            "Reconnecting the cam to Wi-Fi is such a hassle, the setup QR code never scans on the first try.",
        ),
        details=("Already moved the router closer.", "Signal strength shows three bars.",
                 "Factory reset fixed it for exactly one day."),
        scenes=("Pretty stressful when you're traveling and can't see the house.",
                "I check it when I get home from the late shift and half the time it's down."),
    ),
    Theme(
        "notebloom-offline", "notebloom", "en", "ask", "offline-mode", 0.4, Surge(OFFLINE_THREAD, 5.0),
        titles=("Offline mode when?", "Please add offline mode", "Offline mode is the #1 missing feature",
                "Feature request: offline notebooks", "Notes won't load underground", "+1 offline mode"),
        early_cores=(
            "Does Notebloom have any kind of offline mode? The editor froze when my train went into the "
            "tunnel.",
            "Small request: let me read notes without a connection. An offline mode would help a lot.",
            "Any workaround for using Notebloom without signal? Thinking about offline mode for flights.",
        ),
        cores=(
            "Please give Notebloom a real offline mode. Every time the train goes underground my notes just "
            "spin.",
            "I write most of my notes on the subway, and without offline mode the app is basically useless "
            "down there.",
            "Offline mode should be the top priority. Couldn't open a single notebook on a flight yesterday.",
            "Is offline mode on the roadmap at all? The community vote thread keeps growing.",
            "Lost a whole paragraph because I lost signal mid-edit. An offline mode would save me so much "
            "pain.",
            "Notebloom is great until you have no connection. Then you can't even read your own notes.",
            "+1 for offline mode. My commute has two dead zones and the editor freezes in both.",
            "Tried to prep for a meeting on the plane and nothing loaded. Offline mode, please.",
            "Why can't I pin a notebook for offline access? Every competitor has an offline mode.",
            "The lack of an offline mode is the only reason I still carry a paper notebook in my bag.",
        ),
        details=("Caching my last twenty notes would already be enough.",
                 "Even a read-only offline mode would help.",
                 "Just sync when I'm back online, that's all I ask.", "I'd honestly pay extra for it.",
                 "The roadmap thread for this has hundreds of upvotes now.",
                 "Every competitor I've tried has this."),
        scenes=("I do most of my writing on the 7:40 train commute.",
                "My bus commute goes through two dead zones every day.",
                "I travel for work every other week and flights are my best thinking time.",
                "Even working from home, the Wi-Fi drops in the middle of a call and my notes vanish.",
                "On the subway there's no signal between four stations, which is exactly when I'm jotting "
                "ideas."),
    ),
    Theme(
        "notebloom-sync", "notebloom", "en", "neg", "sync", 0.91, Surge(SYNC_RELEASE, 3.0),
        titles=("Sync problems again", "Sync is unreliable lately", "Phone and laptop out of sync",
                "Sync issues after the last release"),
        cores=(
            "Sync conflicts again. I end up with two versions of the same note and no idea which one is "
            "newer.",
            "Edits from my laptop take ten minutes to appear on my phone. Sync used to be instant.",
            "After the last release I keep getting 'conflicted copy' notes everywhere.",
            "Sync just stalls at 'uploading 1 change' forever.",
            "Lost a checklist because sync overwrote it with an older version from the tablet.",
            "Why is sync so slow with attachments? A 2MB PDF took ages.",
        ),
        details=("Both devices are on the latest version.", "Signed out and back in, no change.",
                 "Support said they're looking into it."),
        scenes=("I draft on the train commute and finish at my desk, so this breaks my whole flow.",
                "Working from home means switching devices constantly, and sync is the glue.",
                "Meeting notes from a client call were just gone when I opened the laptop."),
    ),
    Theme(
        "notebloom-price", "notebloom", "en", "neg", "pricing", 0.0, Surge(PRICE_NOTICE, 3.5),
        titles=("Pro price increase is too much", "50% price hike?", "Subscription getting too expensive",
                "Thinking of cancelling after the price change"),
        cores=(
            "Notebloom Pro going from $8 to $12 a month is too expensive for what it is.",
            "A 50% price increase with basically no new features. Hard pass.",
            "The new pricing is way too expensive for students. Please bring back the old plan.",
            "I get that costs go up, but the subscription now costs more than my music streaming.",
            "Got the email about the price change. Cancelling and exporting my notes this weekend.",
            "Expensive is fine if the app is reliable, but with the sync issues it's not worth $12.",
        ),
        details=("I've paid yearly since 2022.", "No discount for long-time users either.",
                 "The annual plan went up too."),
        scenes=("I mostly use it for meeting notes while working from home, so I'll probably switch to "
                "something free.",),
    ),
    Theme(
        "notebloom-praise", "notebloom", "en", "pos", "praise", 1.49, None,
        titles=("Love this app", "Small thing I appreciate", "Appreciation post",
                "Notebloom keeps getting better", "Why I stick with Notebloom"),
        cores=(
            "The new templates saved me so much time setting up my weekly review.",
            "Search in Notebloom is ridiculously fast, it even finds text inside photos.",
            "Handwriting recognition on the tablet is shockingly accurate, even with my messy writing.",
            "Been using Notebloom for three years and it's still the app I open first every morning.",
            "The daily note shortcut is such a small thing but I use it constantly.",
            "Backlinks between notes finally made my research folder make sense.",
        ),
        details=("Kudos to the team.", "Recommending it to my whole team.", "Export to PDF looks clean too."),
        scenes=("Perfect for jotting ideas on my commute.",
                "I plan family dinners for the week with a shared template and everyone adds to it.",
                "It's my working-from-home command center.",
                "Used it to plan a two-week trip and had the whole itinerary in one notebook."),
    ),
    Theme(
        "dashplate-rain", "dashplate", "en", "neg", "delivery-delay", 0.4, Surge(RAINY_SPELL, 5.0),
        titles=("Delivery delays whenever it rains", "Another late delivery in the rain", "Rain = late food",
                "Rainy night, cold dinner", "ETA is fiction in bad weather",
                "Storm delays are getting ridiculous"),
        early_titles=("Late delivery on a drizzly evening", "Is rain always this slow?"),
        early_cores=(
            "Light drizzle and my DashPlate order was still 40 minutes late. Is rain always this bad?",
            "Delivery took an hour on a rainy Tuesday. The ETA said 25 minutes the whole time.",
        ),
        cores=(
            "Ordered from DashPlate during the storm and the delivery was 70 minutes late. Food was soggy.",
            "Every time it rains DashPlate delivery times double. The app still says 25 min though.",
            "Rain plus DashPlate means two-hour delays. At least be honest with the estimate.",
            "Delivery delays in the rain are getting worse this week. My order sat at 'picked up' for 50 "
            "minutes.",
            "Third rainy night in a row with a late delivery. The courier said they're massively short on "
            "riders.",
            "The rain surcharge would be fine if the delivery actually showed up on time.",
            "Waited over an hour in the rain for dinner. The tracking map froze halfway.",
            "Why does DashPlate keep accepting orders when the delay is already 90 minutes because of the "
            "rain?",
            "Heavy rain tonight and the estimated time jumped from 20 to 65 minutes after I paid.",
            "Got a refund credit for the late delivery, but honestly I'd rather have dinner on time.",
        ),
        details=("The courier was soaked, not blaming them at all.",
                 "Support chat took 20 minutes to answer.",
                 "The restaurant is literally ten minutes away.",
                 "The fries were cold and the soup had spilled.",
                 "The rain surcharge was added anyway.", "The tracking map stopped updating halfway."),
        scenes=("The kids were starving by the time it arrived and family dinner turned into snacks.",
                "I was stuck in back-to-back calls working from home and really counted on lunch showing up.",
                "Ordered before my night shift and had to leave before it came.",
                "Got home soaked from my commute and just wanted hot food."),
    ),
    Theme(
        "dashplate-cold", "dashplate", "en", "neg", "order-quality", 1.29, None,
        titles=("Order problems again", "Not what I ordered", "Order quality lately",
                "DashPlate order went wrong"),
        cores=(
            "Order arrived cold and the drinks were missing. Second time this month.",
            "Got someone else's order entirely. Support offered a $3 credit.",
            "Burger was cold and squashed, clearly sat somewhere for a while.",
            "They forgot half my order and the refund process is a maze.",
            "Ordered pho and got cold broth with no noodles.",
            "Items missing again. I now check the bag before the courier leaves.",
        ),
        details=("The restaurant said it left on time.", "Photo proof wasn't enough for a refund.",
                 "Had to reorder from somewhere else."),
        scenes=("Ruined our family dinner plans.",
                "On a night shift break you don't have time to wait for a replacement."),
    ),
    Theme(
        "dashplate-family", "dashplate", "en", "pos", "group-order", 1.0, None,
        titles=("Family dinner made easy", "Sunday dinner win", "DashPlate for big family meals"),
        cores=(
            "The group order feature is perfect for family dinner, everyone picks their own dish and it all "
            "arrives together.",
            "Split bill in DashPlate saved us an argument at the end of a family dinner.",
            "Ordered for eight people and everything arrived hot and labeled.",
            "Love that I can schedule Sunday dinner delivery ahead of time.",
            "The kids' menu filter is such a thoughtful touch.",
        ),
        details=("Courier was super friendly.", "Even the sauces were right.",
                 "Will do it again next weekend."),
        scenes=("Grandparents were visiting and nobody had to cook.",
                "After a long week working from home it was nice not to think about dinner."),
    ),
    Theme(
        "dashplate-late-night", "dashplate", "en", "ask", "late-night", 1.0, None,
        titles=("Late night options for night shift workers", "3am ordering", "Night shift food",
                "Fewer restaurants after midnight?"),
        cores=(
            "As a night shift nurse, DashPlate is the only way I eat something warm at 3am.",
            "Please keep more restaurants open on the app after midnight. Night shift workers exist.",
            "Late-night delivery to the hospital entrance worked perfectly tonight.",
            "After 1am the choices drop to two burger places. We need more late-night options.",
            "Love that the courier can meet me at the loading dock during my night shift break.",
            "Ordering on night shift is hit or miss, half the places close the moment I'm hungry.",
        ),
        details=("Courier found the staff entrance without a call.",
                 "The delivery fee at night is steep though.",
                 "Thirty-minute breaks don't leave much room for delays."),
    ),
    Theme(
        "voltway-broken", "voltway", "en", "neg", "charger-reliability", 1.49, None,
        titles=("Another broken charger", "Out of order again", "Charger reliability is getting worse",
                "Chargers broken for weeks", "Station says available, it isn't"),
        cores=(
            "Pulled into the VoltWay station and two of four chargers were broken. Again.",
            "The app said the charger was available but the screen was dead when I got there.",
            "The cable on stall 3 has been broken for three weeks and nobody has fixed it.",
            "Charging session keeps failing at 80%. Tried three different stalls.",
            "Out of order sign on the only fast charger in town. Had to wait for the slow one.",
            "Half the chargers at the mall location are broken and the app still lists them as working.",
            "The charger started, then stopped after two minutes with an error code.",
        ),
        details=("Reported it in the app twice.", "Support hotline had a 25 minute hold.",
                 "My car was at 9% so I didn't have much choice."),
        scenes=("Not what you need on a road trip with two kids in the back.",
                "I charge on my way home from the night shift and there's no backup nearby at 4am.",
                "My daily commute depends on this one station."),
    ),
    Theme(
        "voltway-payment", "voltway", "en", "neg", "payment", 0.4, Surge(PAYMENT_OUTAGE, 3.0),
        titles=("Payment problems at the charger", "VoltWay payments are a mess", "App payment issues"),
        cores=(
            "Payment keeps failing in the VoltWay app even though the card works everywhere else.",
            "Got charged twice for one session and support says it'll take 10 business days.",
            "The app crashed mid-payment and the charger wouldn't start.",
            "Can't add a new card, the form just spins.",
            "Tap-to-pay on the charger doesn't work, you're forced to use the app.",
        ),
        details=("Reinstalled the app, same thing.", "Tried two different cards.",
                 "The station had no signal, which didn't help."),
        scenes=("Stuck at a rest stop during a road trip because of this.",
                "Late at night after work it's the last thing I want to deal with."),
    ),
    Theme(
        "voltway-road-trip", "voltway", "en", "pos", "route-planner", 0.91, None,
        titles=("Road trip route planner is excellent", "Long trip, no stress",
                "Great charging stops",
                "Props to VoltWay"),
        cores=(
            "Did a 1,200 km road trip and the VoltWay route planner nailed every charging stop.",
            "The trip planner picks stations with food nearby, which made traveling with kids "
            "so much easier.",
            "Charged at a VoltWay hub on the highway, 20 minutes to 80%, clean bathrooms, coffee. Great.",
            "Love that the app shows live availability along the route.",
            "First long trip in the EV and VoltWay made it painless.",
        ),
        details=("The reserved slot feature is underrated.", "Prices were reasonable too.",
                 "Every stall worked."),
        scenes=("Family holiday travel done right.", "Perfect for my monthly work trips."),
    ),
    Theme(
        "voltway-queue", "voltway", "en", "neg", "queues", 0.91, None,
        titles=("Queues at the station", "Waiting forever to charge", "Need more chargers downtown",
                "Waiting in line again"),
        cores=(
            "Waited 45 minutes just to get a stall at the downtown VoltWay station.",
            "Every evening there's a queue of six cars at the supermarket chargers.",
            "The queue feature in the app doesn't work, people just cut in.",
            "VoltWay needs more chargers downtown, the wait times are getting silly.",
            "Idle fees aren't enforced, so people leave their cars plugged in for hours.",
        ),
        details=("Some cars were already at 100%.", "Only four stalls for the whole district."),
        scenes=("On my commute home this adds almost an hour.", "During travel weekends it's even worse."),
    ),
    Theme(
        "voltway-cold", "voltway", "en", "neg", "cold-weather", 0.15, Surge(COLD_SNAP, 5.0),
        titles=("Charging is so slow in the cold", "Cold snap = slow charging", "Fast chargers not fast in winter",
                "Winter charging speeds are a joke", "Slow charging every morning now"),
        early_titles=("Slower charging on a frosty morning?",),
        early_cores=(
            "First frosty morning and charging felt a bit slower than usual. Is that normal in winter?",
        ),
        cores=(
            "Cold snap this week and the VoltWay fast chargers are crawling at 40 kW instead of 150.",
            "Charging in the cold takes twice as long. The stall said 150 kW, my car got 38.",
            "Range dropped a third overnight in the cold snap and the charging was slow on top of that.",
            "Is there a winter mode for these chargers? Slow charging in the cold every single morning now.",
            "Preconditioned the battery like the app said and charging in the cold was still painfully slow.",
            "Minus eight this morning and the downtown VoltWay stall took 70 minutes to get me to 80%.",
            "Since the cold snap started, the slow charging has turned a quick stop into an hour.",
        ),
        details=("Battery preconditioning was on.", "The app estimate said 25 minutes.",
                 "Same stall was fine last month.", "The car was parked inside overnight."),
        scenes=("My commute got an extra half hour because of it.",
                "On the way home from the night shift it's freezing out there while I wait.",
                "Not great with holiday travel coming up."),
    ),
    Theme(
        "dashplate-fee", "dashplate", "en", "neg", "fees", 0.0, Surge(SERVICE_FEE, 5.0),
        titles=("New service fee?", "Service fee on every order now", "The new fee is a joke", "Hidden service fee",
                "DashPlate fees keep growing"),
        cores=(
            "DashPlate quietly added a service fee to every order. Two dollars on a five dollar coffee.",
            "The new service fee plus the delivery fee plus the tip means my lunch costs double.",
            "Since the new service fee showed up I'm ordering less. Nobody announced it.",
            "A service fee on top of the delivery fee? What is the delivery fee for then?",
            "Checked my receipt and there's a new service fee I never agreed to.",
            "Cancelled my order at checkout when I saw the service fee. That's new this week.",
        ),
        details=("It isn't shown until the very last screen.", "Support says the fee goes to operations.",
                 "The restaurant's own menu prices went up too."),
        scenes=("For a family dinner for five the fee alone was almost ten dollars.",
                "On a night shift I just want a meal, not a surprise at checkout.",
                "Working from home, I order lunch most days, so this adds up fast."),
    ),
)

ZH_THEMES = (
    Theme(
        "lumacam-battery", "lumacam", "zh", "neg", "battery", 0.2, Surge(FIRMWARE_3_8, 3.0),
        titles=("更新后耗电严重", "3.8固件耗电问题", "摄像头电池掉得太快", "有人遇到更新后耗电吗",
                "别急着升级固件"),
        early_titles=("天冷了摄像头掉电快？",),
        early_cores=("天冷了以后 Lumacam 摄像头好像耗电快了一点，正常吗？",),
        cores=(
            "Lumacam 固件更新到3.8之后耗电特别快，原来一个月充一次，现在一周就没电了。",
            "更新后耗电太离谱了，门口那台摄像头三天掉了六成电。",
            "有人也遇到更新后耗电的问题吗？两台摄像头都是一样的情况。",
            "自从更新以后，电池一天掉百分之十，关了移动侦测也没用。",
            "新固件真的很耗电，周日刚充满，今天早上就提示电量低了。",
            "3.8版本更新后耗电严重，客服只让我重置，根本解决不了。",
            "更新完固件，摄像头几分钟就唤醒一次，电量哗哗地掉。",
            "这次更新后耗电的问题太坑了，又不能回退版本。",
        ),
        details=("我很少看实时画面。", "最近天气也不冷，应该不是温度的问题。", "已经重新配对两次了。",
                 "工单提交四天了还没回复。", "移动侦测灵敏度调到最低也没用。"),
        scenes=("下周要出差，真担心它撑不住。", "我上夜班，全靠它晚上看家。",
                "在家办公的时候能听到它一直在唤醒。"),
    ),
    Theme(
        "lumacam-alerts", "lumacam", "zh", "neg", "alerts", 0.8, None,
        titles=("移动提醒问题", "提醒不靠谱", "推送和误报问题"),
        cores=(
            "移动侦测的提醒总是晚好几分钟，快递都被拿走了才推送。",
            "车灯一晃就误报，一晚上收到三十多条提醒。",
            "人形检测把我家猫当成人，误报太多了。",
            "推送经常延迟，看回放的时候人早走了。",
            "开了智能区域还是一直误报，完全没用。",
        ),
        details=("手机通知权限都开了。", "家里网络没问题。"),
        scenes=("夜班的时候根本没空看这些误报。", "出门旅行只好把提醒关了。"),
    ),
    Theme(
        "lumacam-night-vision", "lumacam", "zh", "pos", "night-vision", 0.6, None,
        titles=("夜视效果真不错", "夸一下夜视"),
        cores=(
            "Lumacam 的彩色夜视效果出乎意料地好，半夜车牌都看得清。",
            "昨晚拍到一只黄鼠狼，夜视画面非常清楚。",
            "夜视比我之前用的摄像头强太多了，很满意。",
            "关了门口的灯，夜间画面依然很清晰。",
        ),
        details=("安装十分钟就搞定了。", "回放加载也很快。"),
        scenes=("下夜班回家前先看一眼门口，很安心。", "出差住酒店也能随时看家里情况。"),
    ),
    Theme(
        "notebloom-offline", "notebloom", "zh", "ask", "offline-mode", 0.2, Surge(OFFLINE_THREAD, 3.0),
        titles=("求离线模式", "离线模式什么时候上线", "地铁里打不开笔记", "建议增加离线模式"),
        early_cores=("Notebloom 有没有离线模式？地铁进隧道的时候编辑器直接卡住了。",),
        cores=(
            "Notebloom 什么时候出离线模式？地铁里一没信号就打不开笔记。",
            "每天通勤在地铁上记东西，没有离线模式真的很难受。",
            "强烈建议加离线模式，昨天坐飞机一篇笔记都打不开。",
            "信号一断编辑器就卡住，刚写的一段全没了，求离线模式。",
            "离线模式呼声这么高，官方能不能给个时间表？",
            "没有离线模式是我唯一想换软件的理由。",
            "哪怕只读的离线模式也行啊，出差路上完全用不了。",
            "希望支持离线模式，等有网了再同步就好。",
        ),
        details=("缓存最近的笔记就够了。", "愿意为这个功能多付钱。", "社区里这个帖子已经几百个赞了。"),
        scenes=("每天通勤要坐四十分钟地铁。", "经常出差坐飞机，飞机上是我最能专注写东西的时候。",
                "在家办公有时候网络断了，笔记也跟着打不开。"),
    ),
    Theme(
        "notebloom-sync", "notebloom", "zh", "neg", "sync", 0.6, Surge(SYNC_RELEASE, 2.0),
        titles=("同步问题", "同步又出问题了", "多设备同步很糟心"),
        cores=(
            "同步冲突又来了，同一篇笔记出现两个版本，不知道哪个是新的。",
            "电脑上改的内容十分钟后手机上才出来，同步太慢了。",
            "最近老是出现冲突副本，笔记列表一团糟。",
            "同步卡在上传中不动，重启也没用。",
            "平板的旧版本把我手机上的清单覆盖了，同步真的坑。",
        ),
        details=("两台设备都是最新版本。", "退出重新登录也没用。"),
        scenes=("通勤路上写的草稿到公司就没了。", "在家办公要来回切换设备，同步出问题很影响效率。"),
    ),
    Theme(
        "notebloom-price", "notebloom", "zh", "neg", "pricing", 0.0, Surge(PRICE_NOTICE, 2.5),
        titles=("涨价太多了", "订阅越来越贵", "考虑退订"),
        cores=(
            "Notebloom 会员从每月8美元涨到12美元，太贵了。",
            "涨价百分之五十，新功能却没几个，不续了。",
            "学生党表示订阅太贵，希望保留旧套餐。",
            "收到涨价邮件，这周末就导出笔记换软件。",
            "同步问题还没解决就涨价，有点说不过去。",
        ),
        details=("老用户也没有任何优惠。", "年费也跟着涨了。"),
    ),
    Theme(
        "notebloom-praise", "notebloom", "zh", "pos", "praise", 0.91, None,
        titles=("安利一下", "用了三年的感受", "夸夸 Notebloom", "好用的笔记软件"),
        cores=(
            "新出的模板太好用了，每周复盘一下子就整理好了。",
            "搜索特别快，连图片里的文字都能搜到。",
            "平板上的手写识别很准，我写字这么潦草都能认出来。",
            "用了三年，每天早上打开的第一个应用还是它。",
            "双向链接让我的资料库终于有条理了。",
        ),
        details=("给开发团队点赞。", "已经推荐给同事了。"),
        scenes=("通勤路上随手记想法很方便。", "出去旅行的行程全放在一个笔记本里。"),
    ),
    Theme(
        "dashplate-rain", "dashplate", "zh", "neg", "delivery-delay", 0.2, Surge(RAINY_SPELL, 3.0),
        titles=("下雨天外卖延迟", "雨天配送太慢了", "雨天外卖又晚了", "雨天加价还迟到"),
        early_titles=("下小雨也送这么慢？",),
        early_cores=("下小雨外卖就晚了四十分钟，雨天都这样吗？",
                     "周二下雨点的外卖等了一个小时，预计时间一直显示二十五分钟。"),
        cores=(
            "下雨天 DashPlate 配送延迟太严重了，等了一个多小时，饭都凉了。",
            "这几天一下雨外卖就晚，App 上还显示二十五分钟送达。",
            "暴雨天点的外卖整整迟到了七十分钟，骑手说人手不够。",
            "下雨配送延迟可以理解，但能不能把预计时间改准一点？",
            "连续三个雨天晚饭都送晚了，配送费还加了价。",
            "雨天加了费还是延迟，这体验太差了。",
            "下雨的时候下单，骑手定位一直卡在半路不动。",
            "下雨天配送延迟这么严重，平台能不能多调点骑手？",
            "雨下得很大，付款之后预计送达时间从二十分钟跳到了六十五分钟。",
        ),
        details=("骑手全身都湿了，不怪他。", "客服二十分钟才回复。", "餐厅离我只有十分钟路程。",
                 "汤洒了一半。"),
        scenes=("一家人等着吃晚饭，孩子饿得直哭。", "在家办公中午连着开会，本来指望外卖准时送到。",
                "夜班前点的，结果出门上班了还没送到。", "下班通勤淋了一身雨，回家就想吃口热的。"),
    ),
    Theme(
        "dashplate-cold", "dashplate", "zh", "neg", "order-quality", 0.91, None,
        titles=("订单又出问题", "外卖体验很差", "这单送得一塌糊涂"),
        cores=(
            "送到的饭菜是凉的，饮料还少了一杯，这个月第二次了。",
            "直接送成了别人的订单，客服只给了三块钱补偿。",
            "汉堡又凉又被压扁了，明显在哪放了很久。",
            "少送了一半，退款流程绕来绕去太麻烦。",
        ),
        details=("餐厅说是按时出餐的。", "拍照上传了也不给退款。"),
        scenes=("一家人的晚饭计划全泡汤了。", "夜班休息时间短，根本等不了重新配送。"),
    ),
    Theme(
        "dashplate-family", "dashplate", "zh", "pos", "group-order", 0.69, None,
        titles=("家庭聚餐点外卖很方便", "周末晚饭点外卖", "一家人点外卖的好体验"),
        cores=(
            "拼单功能太适合家庭聚餐了，每人选自己的菜，一起送到。",
            "周末家里来了八个人，点的菜全部热乎乎地按时送到，很满意。",
            "可以提前预约周日晚饭的配送时间，很方便。",
            "儿童餐筛选这个功能很贴心。",
        ),
        details=("骑手很有礼貌。", "下周末还会再点。"),
        scenes=("爸妈来家里住，没人需要下厨。",),
    ),
    Theme(
        "dashplate-late-night", "dashplate", "zh", "ask", "late-night", 0.91, None,
        titles=("夜班点外卖", "半夜能点的店太少了", "凌晨外卖"),
        cores=(
            "上夜班的护士表示，凌晨三点能吃上热饭全靠 DashPlate。",
            "过了十二点能点的店就剩两三家了，希望多一些夜宵选择。",
            "凌晨送到医院门口很顺利，骑手直接找到了员工通道。",
            "夜班点外卖看运气，饿的时候店都关了。",
        ),
        details=("夜间配送费有点贵。", "休息只有半小时，经不起延迟。"),
    ),
    Theme(
        "voltway-broken", "voltway", "zh", "neg", "charger-reliability", 1.2, None,
        titles=("充电桩又坏了", "充电桩故障", "显示可用其实坏了", "快充桩停用好几周了"),
        cores=(
            "到了 VoltWay 充电站，四个充电桩坏了两个，又是这样。",
            "App 上显示充电桩空闲，到了才发现屏幕是黑的。",
            "3号桩的充电枪坏了三个星期了也没人修。",
            "充到百分之八十就自动断开，换了三个桩都一样。",
            "商场那个站一半的充电桩都坏了，App 还显示正常。",
            "充电开始两分钟就报错停止，太耽误事了。",
        ),
        details=("在 App 里报修了两次。", "客服电话等了二十五分钟。", "车只剩百分之九的电了。"),
        scenes=("带着两个孩子自驾出游，遇到这种情况真崩溃。",
                "下夜班回家顺路充电，凌晨四点附近根本没有别的桩。",
                "每天通勤就靠这一个站。"),
    ),
    Theme(
        "voltway-payment", "voltway", "zh", "neg", "payment", 0.31, Surge(PAYMENT_OUTAGE, 2.0),
        titles=("支付问题", "App 付款又出问题", "充电付款太折腾"),
        cores=(
            "VoltWay App 支付一直失败，银行卡在别的地方都能用。",
            "充一次电被扣了两次钱，客服说要十个工作日才能退。",
            "付款的时候 App 闪退了，充电桩也启动不了。",
            "添加新银行卡一直转圈，根本绑不上。",
        ),
        details=("重装 App 也没用。", "换了两张卡都不行。"),
        scenes=("自驾途中在服务区被卡住了。",),
    ),
    Theme(
        "voltway-road-trip", "voltway", "zh", "pos", "route-planner", 0.6, None,
        titles=("自驾路线规划很好用", "长途充电很顺利"),
        cores=(
            "开了一千二百公里自驾，VoltWay 的路线规划每个充电站都安排得很合理。",
            "规划的充电站旁边都有吃饭的地方，带孩子出行方便多了。",
            "高速服务区的充电站二十分钟充到八成，还很干净，点赞。",
            "第一次开电车跑长途，全程很顺利。",
        ),
        details=("预约充电位的功能很实用。", "价格也合理。"),
        scenes=("假期家庭出游全靠它。",),
    ),
    Theme(
        "voltway-queue", "voltway", "zh", "neg", "queues", 0.69, None,
        titles=("排队充电太久", "市区充电桩太少"),
        cores=(
            "市中心的充电站排了四十五分钟才轮到我。",
            "每天晚上超市那边的充电桩都要排六辆车。",
            "App 的排队功能形同虚设，总有人插队。",
            "充满了也不挪车，占位费根本没人管。",
        ),
        details=("整个片区只有四个桩。",),
        scenes=("下班通勤回家要多花快一个小时。",),
    ),
    Theme(
        "voltway-cold", "voltway", "zh", "neg", "cold-weather", 0.11, Surge(COLD_SNAP, 3.0),
        titles=("天冷充电太慢", "寒潮充电慢", "快充桩冬天不快了", "降温后充电慢得离谱"),
        early_titles=("降温后充电变慢？",),
        early_cores=("今天第一次降温，充电好像变慢了一点，正常吗？",),
        cores=(
            "降温以后 VoltWay 快充桩只有四十千瓦，充电慢得离谱。",
            "天冷充电太慢了，本来二十分钟的现在要一个小时。",
            "寒潮一来续航掉了三成，充电还特别慢。",
            "早上零下好几度，充电桩功率一直上不去，充电太慢。",
            "按 App 提示预热了电池，天冷充电还是很慢。",
            "寒潮这几天每次充电都要排队，充电又慢，真难受。",
        ),
        details=("电池预热已经打开了。", "App 预计二十五分钟充满。", "同一个桩上个月还很正常。"),
        scenes=("每天通勤要多花半个小时。", "下夜班回家在寒风里等充电。", "马上要自驾出游了，有点担心。"),
    ),
    Theme(
        "dashplate-fee", "dashplate", "zh", "neg", "fees", 0.0, Surge(SERVICE_FEE, 3.0),
        titles=("新增服务费？", "每单都收服务费", "服务费太离谱", "外卖又多收钱了"),
        cores=(
            "DashPlate 突然每单加收服务费，一杯咖啡多收两块。",
            "新加的服务费加上配送费，一顿午饭贵了一倍。",
            "配送费之外又来个服务费，到底收的什么钱？",
            "结账时看到新的服务费直接取消了订单。",
            "服务费也不提前通知，默默就加上了，很失望。",
        ),
        details=("最后一步才显示出来。", "客服说服务费用于平台运营。"),
        scenes=("一家人点晚饭，光服务费就快十块钱了。", "在家办公天天点午饭，这样下来多花不少。"),
    ),
)

# Stand-alone posts: (product, tag, title, text). Spread evenly over the six weeks.
EN_MISC = (
    ("lumacam", "integrations", "HomeKit support?",
     "Does Lumacam work with HomeKit yet or is that still 'coming soon'?"),
    ("voltway", "membership", "Membership worth it?",
     "Is the VoltWay membership worth it if I only fast-charge twice a month?"),
    ("notebloom", "templates", "Recipe template?",
     "Anyone using Notebloom for recipes? Looking for a good template."),
    ("dashplate", "groceries", "Grocery delivery",
     "DashPlate just added grocery delivery in my area, anyone tried it?"),
    ("notebloom", "design", "Dark mode", "Dark mode in Notebloom is gorgeous. Small thing, but it matters."),
    ("lumacam", "sharing", "Sharing tip",
     "Tip: you can share a Lumacam clip without giving someone full access to the camera."),
    ("voltway", "stations", "Airport stations",
     "VoltWay's new stations near the airport are a great addition."),
    ("notebloom", "widgets", "Lock screen widget", "Would love a widget for Notebloom on the lock screen."),
    ("dashplate", "promos", "Promo code still works",
     "DashPlate promo code for first-time users still works, saved 30%."),
    ("notebloom", "organization", "How do you organize?",
     "How do you all organize notebooks in Notebloom? Mine is chaos."),
    ("lumacam", "subscription", "Cloud plan vs local",
     "Lumacam subscription question: is the cloud plan worth it over local storage?"),
    ("dashplate", "tipping", "Tipping screen",
     "The DashPlate tipping screen is confusing, I tipped twice by accident."),
    ("voltway", "stations", "Reliable garage charger",
     "The VoltWay charger in the parking garage at work has been reliable all month."),
    ("notebloom", "import", "Markdown import",
     "Can Notebloom import from plain markdown folders? Moving my stuff over."),
    ("lumacam", "chimes", "New chime sounds",
     "Lumacam's new chime sounds are cute. My dog hates them though."),
    ("dashplate", "feature-request", "Block a restaurant",
     "Feature request for DashPlate: let me mark a restaurant as 'never again'."),
    ("voltway", "support", "Nice gesture",
     "Got a VoltWay charging credit for reporting a broken stall. Nice gesture."),
    ("notebloom", "calendar", "Calendar integration",
     "Notebloom calendar integration would make meeting notes so much easier."),
    ("dashplate", "office", "Office delivery after 9pm?",
     "Does DashPlate deliver to office buildings after 9pm? Working late this week."),
    ("lumacam", "support", "Support came through",
     "Lumacam customer support was actually helpful this time, the replacement mount arrived in two days."),
    ("voltway", "pricing", "Price per kWh",
     "Anyone compared VoltWay against other networks on price per kWh lately?"),
    ("notebloom", "tablet", "Pen latency", "Notebloom on the new tablet feels smooth, pen latency is great."),
)
ZH_MISC = (
    ("lumacam", "integrations", "支持 HomeKit 吗", "Lumacam 支持 HomeKit 吗？官网写着即将推出。"),
    ("voltway", "membership", "会员值不值", "一个月只快充两次，VoltWay 会员值得开吗？"),
    ("notebloom", "templates", "求菜谱模板", "有人用 Notebloom 记菜谱吗？求一个好用的模板。"),
    ("dashplate", "groceries", "上线买菜了", "DashPlate 我们这边上线买菜了，有人试过吗？"),
    ("notebloom", "design", "深色模式好看", "Notebloom 的深色模式很好看，细节做得不错。"),
    ("voltway", "stations", "机场新充电站", "VoltWay 在机场附近新开的充电站很方便。"),
    ("dashplate", "tipping", "小费页面很迷惑", "DashPlate 的小费页面设计得很迷惑，我不小心给了两次。"),
    ("notebloom", "import", "导入 Markdown", "Notebloom 能直接导入 Markdown 文件夹吗？准备把资料都搬过来。"),
    ("lumacam", "support", "客服给力", "Lumacam 客服这次很给力，两天就寄来了新的支架。"),
    ("lumacam", "export", "批量导出录像", "Lumacam 的录像能批量导出吗？"),
)

# Pinned posts, which the community export gives without a date: (product, lang, title, text).
PINNED = (
    ("lumacam", "en", "Known issues megathread",
     "Known issues megathread: battery drain after updates, false motion alerts and Wi-Fi disconnects. Please post "
     "logs here instead of opening new threads."),
    ("notebloom", "en", "Read before posting",
     "Read before posting: search for existing feature requests such as offline mode before opening a new one. "
     "Duplicates get merged."),
    ("dashplate", "en", "How refunds work",
     "How refunds work: late delivery, cold food and missing items are refunded as credits within 24 hours."),
    ("voltway", "en", "Reporting a broken charger",
     "Reporting a broken charger: note the stall number and the error code shown on the screen."),
    ("lumacam", "zh", "置顶：常见问题汇总", "置顶：更新后耗电、误报和断线等常见问题请集中在本帖反馈。"),
    ("dashplate", "zh", "置顶：退款规则说明", "置顶：配送延迟、饭菜凉了和少送的订单，24小时内以代金券形式退款。"),
)

EN_AUTHORS = (
    "maya_k", "tomfromleeds", "priya.codes", "jonas_h", "leah.writes", "samwise88", "devnull_dan", "nina_r",
    "marco.p", "ellie_b", "kenji_t", "ana.luisa", "grace_h", "omar.builds", "hana_m", "benji", "zoe.w",
    "ravi_s",
    "ivy_lane", "nightshift_nurse", "roadtripdad", "wfh_wendy", "commuter_cal", "coastal_ev", "quietcoder",
    "mike_in_ohio", "clara.v", "felixf", "jordan_t", "lucy_k", "harper.m", "noah_r", "sofia_d", "ethan.b",
    "mila_j", "owen_p", "aria.c", "leo_g", "nora.h", "theo_a", "ruby_s", "finn.o", "isla_m", "jack_w",
)
ZH_AUTHORS = (
    "小鹿不吃香菜", "夜班护士阿敏", "通勤狗小王", "上海打工人", "周末去露营", "橘子汽水", "阿杰在路上",
    "豆包妈妈",
    "北漂程序员", "深夜食堂常客", "骑行的猫", "电车车主老李", "早起困难户", "咖啡续命", "不想加班的Lily",
    "南方的雨", "一只大白", "火锅爱好者", "慢慢来", "数码小张", "居家办公的K", "晚睡星人", "长沙吃货",
    "海边的风",
)

# Feed entries: (published, blog, title, summary, category); None for pinned entries the feed gives no date.
FEED_ENTRIES = (
    (None, "Lumacam Forum Digest", "Pinned: how to report a camera problem",
     "Include the camera model, the firmware version and the activity log when you report battery drain, missed "
     "alerts or disconnects.", "community"),
    (None, "Notebloom 中文社区", "置顶：社区发帖规则",
     "发帖前请先搜索，离线模式、同步问题等已有讨论的话题请在原帖回复。", "community"),
    ("2026-11-01T09:00:00Z", "VoltWay News", "November network update",
     "Twelve new stalls opened in October, and the app now shows when a station was last serviced.", "network"),
    ("2026-11-02T08:00:00Z", "Notebloom Blog", "An update on Notebloom Pro pricing",
     "Starting December 1, Notebloom Pro moves from $8 to $12 per month. Annual subscribers keep their "
     "current price until renewal.", "pricing"),
    ("2026-11-02T15:30:00Z", "Lumacam Blog", "Night vision explained: color versus infrared",
     "How the color night mode works, when the camera switches to infrared, and how to place a camera to "
     "avoid glare from porch lights.", "guides"),
    ("2026-11-03T04:00:00Z", "Notebloom 中文社区", "会员价格调整说明",
     "自12月1日起，Notebloom 会员价格从每月8美元调整为12美元，年费用户续费前价格不变。", "pricing"),
    ("2026-11-04T12:00:00Z", "DashPlate Blog", "Group orders now support split bills",
     "Everyone in a group order can now pay for their own dish, which makes family dinners and office "
     "lunches easier to organise.", "features"),
    ("2026-11-05T10:00:00Z", "VoltWay News", "40 new fast-charging stalls along the coastal highway",
     "New VoltWay hubs open this month between the two largest cities, each with at least six 150 kW stalls.",
     "network"),
    ("2026-11-06T09:00:00Z", "Lumacam Blog", "Getting your cameras ready for winter",
     "Batteries hold less charge in the cold. Here is how to place outdoor cameras and tune motion detection "
     "for the winter months.", "guides"),
    ("2026-11-07T09:00:00Z", "Notebloom Blog", "Notebloom 6.4 release notes",
     "Faster search indexing, a new weekly review template, and fixes for handwriting on older tablets.",
     "release-notes"),
    ("2026-11-08T11:00:00Z", "DashPlate Blog", "Weekly picks: comfort food for chilly evenings",
     "Soups, noodles and hot pots that travel well, from restaurants that deliver within 30 minutes.",
     "promotions"),
    ("2026-11-09T18:00:00Z", "Notebloom Forum Digest", "Sync conflicts after 6.4: what we know",
     "Several users report conflicted copies after updating to 6.4. The team is collecting examples in the "
     "sync thread.", "digest"),
    ("2026-11-10T03:00:00Z", "Notebloom 中文社区", "社区周报：涨价讨论与同步问题",
     "本周讨论最多的是会员涨价，其次是同步冲突。团队正在排查 6.4 的同步问题。", "digest"),
    ("2026-11-11T18:00:00Z", "Notebloom Forum Digest", "Weekly digest: pricing reactions and sync conflicts",
     "The pricing announcement dominated the forum this week. Many users also reported conflicted copies "
     "after updating to 6.4.", "digest"),
    ("2026-11-12T09:00:00Z", "Lumacam Blog", "Tips for reducing false motion alerts",
     "Activity zones, person detection and sensitivity settings that cut down on alerts triggered by "
     "headlights, rain and insects.", "guides"),
    ("2026-11-13T16:00:00Z", "Notebloom Blog", "Notebloom 6.4.1 fixes sync conflicts",
     "This patch fixes the conflicted copies some users saw after 6.4 and speeds up sync for large "
     "attachments.", "release-notes"),
    ("2026-11-13T20:00:00Z", "DashPlate Blog", "Late-night delivery extended to 3am in six cities",
     "Night shift workers asked for it: more restaurants will stay available on the app until 3am.",
     "features"),
    ("2026-11-14T04:00:00Z", "VoltWay 中文社区", "本周充电桩故障反馈汇总",
     "商场站和市中心站的故障报修较多，维修团队已排期处理，App 中的状态显示问题也在修复。", "digest"),
    ("2026-11-15T17:00:00Z", "DashPlate Blog", "What we're changing to keep food hot",
     "New insulated bags and a limit on stacked orders aim to reduce complaints about cold food and missing "
     "items.", "quality"),
    ("2026-11-16T02:00:00Z", "DashPlate 中文社区", "夜班人群夜宵推荐",
     "整理了凌晨仍在营业的餐厅，适合夜班和加班的朋友。", "community"),
    ("2026-11-17T04:00:00Z", "VoltWay 中文社区", "App 支付失败问题说明",
     "部分用户在 App 内付款失败，工程团队正在处理，充电桩上的刷卡支付不受影响。", "status"),
    ("2026-11-18T13:00:00Z", "VoltWay News", "Known issue: card payments failing for some users",
     "Some card payments in the app fail with error 402. Tap-to-pay at the charger is unaffected where "
     "available.", "status"),
    ("2026-11-19T13:00:00Z", "VoltWay News", "Route planner now shows amenities",
     "Charging stops in the road trip planner now list food, restrooms and live stall availability.",
     "features"),
    ("2026-11-20T14:00:00Z", "VoltWay News", "Holiday travel: plan your charging stops early",
     "The route planner now suggests stops with food and restrooms. Busy highway sites may have queues on "
     "holiday weekends.", "travel"),
    ("2026-11-21T12:00:00Z", "DashPlate Blog", "Weekend family dinner bundles are back",
     "Family dinner bundles for four to eight people return with a kids' menu filter and scheduled delivery.",
     "promotions"),
    ("2026-11-22T10:00:00Z", "Lumacam Forum Digest", "Forum digest: alert tuning tips",
     "Members shared activity zone setups that cut false alerts from headlights and passing cars.", "digest"),
    ("2026-11-23T05:00:00Z", "DashPlate 中文社区", "周末家庭聚餐套餐回归",
     "四到八人的家庭聚餐套餐回归，支持儿童餐筛选和预约配送。", "promotions"),
    ("2026-11-24T15:00:00Z", "VoltWay News", "Payment issue resolved",
     "The card payment failures reported last week are fixed. Duplicate charges will be refunded "
     "automatically.", "status"),
    ("2026-11-25T09:00:00Z", "Notebloom Blog", "Templates gallery: plan your holidays",
     "New templates for trip itineraries, gift lists and family dinner planning.", "features"),
    ("2026-11-26T13:00:00Z", "VoltWay 中文社区", "市区新增充电站计划",
     "为缓解市中心排队问题，下个月将在三个商圈新增充电桩，并开始收取超时占位费。", "network"),
    ("2026-11-27T10:00:00Z", "Lumacam Blog", "Firmware 3.8 is rolling out",
     "Firmware 3.8 adds package detection and smarter wake-up scheduling. The rollout to all battery cameras "
     "begins on November 29.", "release-notes"),
    ("2026-11-28T19:00:00Z", "VoltWay Forum Digest", "Forum digest: downtown queues and idle fees",
     "Members discussed long queues at downtown stations and cars left plugged in after charging.", "digest"),
    ("2026-11-29T18:00:00Z", "VoltWay News", "Idle fees at busy downtown sites",
     "From December, cars that stay plugged in after charging at busy downtown sites pay an idle fee.",
     "pricing"),
    ("2026-11-30T03:00:00Z", "Lumacam 中文社区", "3.8 固件开始推送",
     "3.8 固件新增包裹识别和更智能的唤醒策略，本周陆续推送到所有电池款摄像头。", "release-notes"),
    ("2026-12-01T11:00:00Z", "Lumacam Forum Digest", "Forum digest: early reports on firmware 3.8",
     "A growing thread reports faster battery drain after updating to firmware 3.8. We are collecting logs "
     "from affected cameras.", "digest"),
    ("2026-12-02T10:00:00Z", "Lumacam Blog", "Investigating higher battery use on firmware 3.8",
     "We have confirmed that some cameras wake up more often than intended after the 3.8 update, which "
     "drains the battery. A fix is in progress.", "status"),
    ("2026-12-03T03:00:00Z", "Lumacam 中文社区", "关于3.8固件耗电问题的说明",
     "我们注意到部分用户反馈更新后耗电明显加快，工程团队正在排查唤醒频率异常的问题。", "status"),
    ("2026-12-04T19:00:00Z", "Notebloom Forum Digest", "Top feature request this week: offline mode",
     "The offline mode request thread passed 300 votes. Most people describe commuting on the subway and "
     "working on flights.", "digest"),
    ("2026-12-05T08:00:00Z", "Lumacam Blog", "Known issue: battery drain after the 3.8 update",
     "We found a wake-up loop in 3.8 that drains the battery on outdoor cameras. Firmware 3.8.1 is in "
     "testing. Until then, turning off smart wake reduces the drain.", "status"),
    ("2026-12-06T08:00:00Z", "DashPlate Blog", "Service update: heavy rain in the metro area",
     "Expect longer delivery times tonight because of heavy rain. A weather surcharge applies and goes to "
     "couriers.", "status"),
    ("2026-12-06T16:00:00Z", "Notebloom Blog", "Offline mode: what we're exploring",
     "We hear you. Here is how we are thinking about offline notebooks, conflict handling and storage "
     "limits on phones.", "roadmap"),
    ("2026-12-07T01:30:00Z", "DashPlate 中文社区", "雨天配送提醒",
     "受持续降雨影响，部分地区配送时间延长，预计送达时间可能不准确，请大家谅解。", "status"),
    ("2026-12-07T06:00:00Z", "Notebloom 中文社区", "离线模式需求征集",
     "离线模式已经成为社区呼声最高的功能，欢迎在帖子里描述你的使用场景，比如地铁通勤和出差。", "roadmap"),
    ("2026-12-08T16:00:00Z", "Lumacam Blog", "Firmware 3.8.1 beta: battery fix",
     "The 3.8.1 beta fixes the wake-up loop behind the battery drain. Sign up in the app to test it.",
     "release-notes"),
    ("2026-12-09T01:00:00Z", "Lumacam 中文社区", "3.8.1 测试版开放报名",
     "3.8.1 测试版修复了更新后耗电的问题，欢迎在 App 内报名参与测试。", "release-notes"),
    ("2026-12-09T09:00:00Z", "DashPlate Forum Digest", "Community digest: rain delays and refunds",
     "Delivery delays during this week's rain were the top topic, followed by questions about refund credits "
     "for late orders.", "digest"),
    ("2026-12-09T14:00:00Z", "VoltWay News", "Cold weather charging: why it is slower",
     "Cold batteries accept less power. Preconditioning on the way to the charger keeps charging speeds up "
     "during the cold snap.", "guides"),
    ("2026-12-10T08:00:00Z", "VoltWay 中文社区", "寒潮期间充电提示",
     "寒潮期间电池温度低，充电功率会下降，建议出发前在 App 中开启电池预热。", "guides"),
    ("2026-12-10T12:00:00Z", "DashPlate Blog", "Why delivery estimates slip in bad weather",
     "Rain slows couriers and increases orders at the same time. We are changing how estimates account for "
     "weather.", "insights"),
    ("2026-12-10T20:00:00Z", "Notebloom Forum Digest", "Weekly digest: offline mode thread passes 500 votes",
     "Offline mode is now the most requested feature in the forum's history. Subway commuters and frequent "
     "travellers lead the thread.", "digest"),
    ("2026-12-11T09:00:00Z", "DashPlate Blog", "Introducing a small service fee",
     "From December 12, a service fee of up to two dollars applies to each order and funds courier support and "
     "insurance.",
     "pricing"),
    ("2026-12-11T16:00:00Z", "DashPlate Blog", "Rain delay credits for affected orders",
     "Orders delivered more than 30 minutes late during last week's storms receive an automatic credit.",
     "status"),
    ("2026-12-12T04:00:00Z", "DashPlate 中文社区", "关于新增服务费的说明",
     "每单新增最高两元的服务费，用于骑手保障和保险。", "pricing"),
    ("2026-12-12T19:00:00Z", "VoltWay Forum Digest", "Forum digest: winter charging speeds",
     "The cold snap brought many reports of slow charging at fast chargers. Members compared preconditioning "
     "tips.", "digest"),
    ("2026-12-13T08:00:00Z", "Lumacam Forum Digest",
     "Weekend digest: battery drain thread and night vision clips",
     "The battery drain thread is still the busiest. On the brighter side, members shared night vision clips "
     "of foxes and owls.", "digest"),
    ("2026-12-13T14:00:00Z", "Notebloom Blog", "Notebloom 6.5 preview: offline notebooks in beta",
     "Pin a notebook for offline use, edit without a connection and sync when you are back online. Beta "
     "opens next month.", "roadmap"),
)


def _timestamp(rng: random.Random, lang: str, day: dt.date) -> dt.datetime:
    """Pick a posting time on the given day; Chinese posts use China time and daytime hours."""
    if lang == "zh":
        clock = dt.time(rng.randint(8, 23), rng.randint(0, 59), tzinfo=CST)
    else:
        clock = dt.time(rng.randint(0, 23), rng.randint(0, 59), tzinfo=dt.UTC)
    return dt.datetime.combine(day, clock)


def _compose(rng: random.Random, theme: Theme, core: str, early: bool) -> str:
    """Build one post from a core sentence and some optional fragments.

    Posts from before a theme's surge that has ``early_cores`` get no detail fragment: the details
    talk about the later situation (the update, the storm) that had not happened yet.
    """
    parts: list[str] = []
    key = (theme.lang, theme.mood)
    if rng.random() < 0.25:
        parts.append(rng.choice(OPENERS[key]))
    parts.append(core)
    extras: list[str] = []
    if theme.details and not (early and theme.early_cores) and rng.random() < 0.55:
        extras.append(rng.choice(theme.details))
    if theme.scenes and rng.random() < 0.55:
        extras.append(rng.choice(theme.scenes))
    rng.shuffle(extras)
    parts.extend(extras)
    if rng.random() < 0.35:
        parts.append(rng.choice(CLOSERS[key]))
    text = ("" if theme.lang == "zh" else " ").join(parts)
    if theme.lang == "en" and rng.random() < 0.08 and not text.startswith("I "):
        text = text[0].lower() + text[1:]  # some people don't capitalise
    return text


def _daily_counts(rng: random.Random, theme: Theme) -> list[int]:
    """Posts per day: the expected number, jittered, rounded so the fractions carry over to later days."""
    counts, carried = [], 0.0
    for n in range(DAYS):
        expected = theme.expected(FIRST_DAY + dt.timedelta(days=n)) * rng.uniform(0.8, 1.2)
        count = math.floor(carried + expected + 0.5) - math.floor(carried + 0.5)
        carried += expected
        counts.append(count)
    return counts


def _theme_posts(rng: random.Random, theme: Theme) -> list[dict[str, object]]:
    """All posts for one theme, day by day."""
    posts: list[dict[str, object]] = []
    seen: set[str] = set()
    late_cores = list(theme.cores)
    rng.shuffle(late_cores)
    early_pool = list(theme.early_cores or theme.cores)
    rng.shuffle(early_pool)
    authors = ZH_AUTHORS if theme.lang == "zh" else EN_AUTHORS
    n = 0
    for offset, count in enumerate(_daily_counts(rng, theme)):
        day = FIRST_DAY + dt.timedelta(days=offset)
        is_early = theme.before_surge(day)
        pool = early_pool if is_early else late_cores
        for _ in range(count):
            text = _compose(rng, theme, pool[n % len(pool)], is_early)
            for _ in range(20):
                if text not in seen:
                    break
                text = _compose(rng, theme, rng.choice(pool), is_early)
            seen.add(text)
            n += 1
            posts.append({
                "title": rng.choice(theme.early_titles if is_early and theme.early_titles else theme.titles),
                "text": text,
                "published": _timestamp(rng, theme.lang, day),
                "author": rng.choice(authors),
                "product": theme.product,
                "tags": [theme.product, theme.tag],
            })
    return posts


def _misc_posts(
    rng: random.Random, lang: str, rows: tuple[tuple[str, str, str, str], ...]
) -> list[dict[str, object]]:
    """Stand-alone questions and remarks, one per row, spread over the whole period."""
    authors = ZH_AUTHORS if lang == "zh" else EN_AUTHORS
    return [{
        "title": title,
        "text": text,
        "published": _timestamp(rng, lang, FIRST_DAY + dt.timedelta(days=(i * DAYS) // len(rows))),
        "author": rng.choice(authors),
        "product": product,
        "tags": [product, tag],
    } for i, (product, tag, title, text) in enumerate(rows)]


def build_posts(seed: int = SEED) -> list[dict[str, object]]:
    """Return the JSON-ready posts with stable ids: the undated pinned posts first, then by publication time."""
    rng = random.Random(seed)
    posts: list[dict[str, object]] = []
    for theme in EN_THEMES + ZH_THEMES:
        posts.extend(_theme_posts(rng, theme))
    posts.extend(_misc_posts(rng, "en", EN_MISC))
    posts.extend(_misc_posts(rng, "zh", ZH_MISC))
    posts.sort(key=lambda p: (p["published"], p["text"]))
    rows: list[dict[str, object]] = [{
        "id": f"pinned-{n:02d}",
        "title": title,
        "text": text,
        "author": "moderator" if lang == "en" else "版主",
        "url": f"{PRODUCTS[product]}{n}",
        "tags": [product, "pinned"],
    } for n, (product, lang, title, text) in enumerate(PINNED, start=1)]
    for n, post in enumerate(posts, start=1):
        published = post["published"]
        assert isinstance(published, dt.datetime)
        stamp = published.isoformat().replace("+00:00", "Z")
        thread = 40000 + n * 7
        rows.append({
            "id": f"post-{n:04d}",
            "title": post["title"],
            "text": post["text"],
            "published": stamp,
            "author": post["author"],
            "url": f"{PRODUCTS[str(post['product'])]}{thread}",
            "tags": post["tags"],
        })
    return rows


def build_feed() -> str:
    """Return the RSS 2.0 document for the product blogs and forum digests."""
    items = []
    for n, (stamp, blog, title, summary, category) in enumerate(FEED_ENTRIES, start=1):
        slug = blog.split()[0].lower()
        published = "" if stamp is None else (
            f"      <pubDate>{format_datetime(dt.datetime.fromisoformat(stamp), usegmt=True)}</pubDate>\n"
        )
        items.append(
            "    <item>\n"
            f"      <title>{escape(title)}</title>\n"
            f"      <link>https://news.{slug}.example/posts/{n:03d}</link>\n"
            f'      <guid isPermaLink="false">feed-{n:03d}</guid>\n'
            + published
            + f"      <dc:creator>{escape(blog)}</dc:creator>\n"
            f"      <category>{escape(category)}</category>\n"
            f"      <description>{escape(summary)}</description>\n"
            "    </item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">\n'
        "  <channel>\n"
        "    <title>Product blogs and community digests (sample)</title>\n"
        "    <link>https://news.example/</link>\n"
        "    <description>Release notes, status updates and weekly forum digests for Notebloom, DashPlate, "
        "Lumacam and VoltWay.</description>\n"
        "    <language>en</language>\n"
        + "\n".join(items)
        + "\n  </channel>\n</rss>\n"
    )


def main() -> None:
    """Write both sample files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    default_out = Path(__file__).resolve().parent.parent / "tasks" / "samples"
    parser.add_argument("--out-dir", type=Path, default=default_out)
    args = parser.parse_args()
    out: Path = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    posts = build_posts()
    with (out / "sample-posts.jsonl").open("w", encoding="utf-8", newline="\n") as fh:
        for row in posts:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    (out / "sample-feed.xml").write_text(build_feed(), encoding="utf-8", newline="\n")
    zh = sum(1 for row in posts if any("\u4e00" <= ch <= "\u9fff" for ch in str(row["text"])))
    print(f"wrote {len(posts)} posts ({zh} Chinese) and {len(FEED_ENTRIES)} feed entries to {out}")


if __name__ == "__main__":
    main()
